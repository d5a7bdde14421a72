"""Organizations that run campaigns (yayasan, government bodies, businesses, community groups,
religious institutions), their members, and the private documents an admin verifies them from."""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from amanah.db import now_utc
from amanah.extensions import db

NAME_MAX = 160
SLUG_MAX = 80
LEGAL_BASIS_MAX = 300
ADDRESS_MAX = 500
CONTACT_MAX = 200
DESCRIPTION_MAX = 10_000
NOTE_MAX = 2_000
FILENAME_MAX = 200


class OrganizationType(enum.StrEnum):
    # Who delivers community services, as the article this platform grew from names them.
    FOUNDATION = "foundation"  # LSM / yayasan / perkumpulan
    GOVERNMENT = "government"  # a government body (dinas, puskesmas, desa)
    BUSINESS = "business"  # a business or its CSR programme
    COMMUNITY = "community"  # a community group (karang taruna, RT/RW, komunitas)
    RELIGIOUS = "religious"  # a religious institution (masjid, gereja, pura, vihara, pesantren)


class MemberRole(enum.StrEnum):
    ORGANIZER = "organizer"  # writes and runs the organization's campaigns, manages its profile
    TREASURER = "treasurer"  # may be named the treasurer of its campaigns


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(SLUG_MAX), unique=True)  # set once; its public URL
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    type: Mapped[str] = mapped_column(sa.String(16))
    legal_basis: Mapped[str] = mapped_column(sa.String(LEGAL_BASIS_MAX))  # e.g. the Kemenkumham decree
    address: Mapped[str] = mapped_column(sa.String(ADDRESS_MAX))
    npwp: Mapped[str | None] = mapped_column(sa.String(16))  # digits only, 15 (old) or 16 (NIK-based)
    contact: Mapped[str] = mapped_column(sa.String(CONTACT_MAX))  # public e-mail or phone
    description: Mapped[str] = mapped_column(sa.Text)  # Markdown
    verified_at: Mapped[dt.datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    verification_note: Mapped[str | None] = mapped_column(sa.Text)  # why it was verified, or revoked
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    members: Mapped[list[OrganizationMember]] = relationship(
        back_populates="organization", order_by="OrganizationMember.id", cascade="all, delete-orphan")
    documents: Mapped[list[OrganizationDocument]] = relationship(
        back_populates="organization", order_by="OrganizationDocument.id")

    __table_args__ = (sa.CheckConstraint(_in("type", OrganizationType), name="type_known"),)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    def has_member(self, user, *roles: MemberRole) -> bool:
        """Whether `user` holds one of `roles` here (any role when none is given)."""
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        wanted = {str(r) for r in roles}
        return any(m.user_id == user.id and (not wanted or m.role in wanted) for m in self.members)

    def members_with(self, role: MemberRole) -> list[User]:
        return [m.user for m in self.members if m.role == role]

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class OrganizationMember(db.Model):
    __tablename__ = "organization_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    added_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    organization: Mapped[Organization] = relationship(back_populates="members")
    user: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(_in("role", MemberRole), name="role_known"),
        sa.UniqueConstraint("organization_id", "user_id", "role"),
    )


class OrganizationDocument(db.Model):
    """A verification paper (deed, decree, NPWP card). Private: only admins and the organization's
    organizers may open it; its SHA-256 is kept so that what was verified can be shown later."""

    __tablename__ = "organization_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="RESTRICT"),
                                                 index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(FILENAME_MAX))  # what the uploader called it
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    organization: Mapped[Organization] = relationship(back_populates="documents")
    uploaded_by: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("organization_id", "sha256"),)
