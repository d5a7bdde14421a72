"""People who use Amanah (donors, organizers, treasurers, auditors, admins) and their roles."""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amanah.db import now_utc
from amanah.extensions import db


class Role(enum.StrEnum):
    """Everyone who has an account is a donor; the other roles are granted by an admin."""

    DONOR = "donor"
    ORGANIZER = "organizer"
    TREASURER = "treasurer"
    AUDITOR = "auditor"
    ADMIN = "admin"


GRANTABLE_ROLES = (Role.ORGANIZER, Role.TREASURER, Role.AUDITOR, Role.ADMIN)
ROLE_KNOWN = "role IN ('organizer', 'treasurer', 'auditor', 'admin')"


class RoleAction(enum.StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so that uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    preferred_language: Mapped[str | None] = mapped_column(sa.String(5))
    # Optional tax identifiers printed on receipts (NPWP: 15 or 16 digits, NIK: 16 digits).
    npwp: Mapped[str | None] = mapped_column(sa.String(16))
    nik: Mapped[str | None] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # When the owner proved they receive mail at `email` (None: not yet, or not since it changed).
    # Only then do earlier guest gifts made with this address join the account.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column()
    # Part of the session identity: bumping it (password change, reset) signs out every session.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    last_login_at: Mapped[dt.datetime | None] = mapped_column()

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin",
        foreign_keys="UserRole.user_id")

    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
        sa.CheckConstraint("preferred_language IN ('id', 'en')", name="preferred_language_known"),
    )

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def role_names(self) -> set[Role]:
        return {Role.DONOR} | {Role(r.role) for r in self.roles}

    def has_role(self, *roles: Role | str) -> bool:
        """True when the user holds any of `roles`."""
        held = self.role_names
        return any(Role(role) in held for role in roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])

    __table_args__ = (
        sa.CheckConstraint(ROLE_KNOWN, name="role_known"),
    )


class RoleChange(db.Model):
    """One grant or revocation of a role, written with the change itself.

    Append-only: database triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL). Users are
    deactivated, never deleted, so both foreign keys RESTRICT: someone named in the history stays.
    """

    __tablename__ = "role_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(10))
    # NULL: the change was made from the command line (`flask users grant|revoke|create-admin`).
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    changed_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    changed_by: Mapped[User | None] = relationship(foreign_keys=[changed_by_id], lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(ROLE_KNOWN, name="role_known"),
        sa.CheckConstraint("action IN ('granted', 'revoked')", name="action_known"),
        sa.Index("ix_role_changes_user_id_changed_at", "user_id", "changed_at"),
    )
