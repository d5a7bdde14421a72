"""What may be done with organizations: profiles, members, verification papers, verification.

Views parse and call these; tests call them directly. Every function that changes something
adds to the session and flushes; the caller commits.
"""
from __future__ import annotations

import dataclasses
import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from accounts.models import User
from amanah import evidence
from amanah.db import now_utc
from amanah.errors import UserError, ValidationError
from amanah.extensions import db
from amanah.text import ascii_slug, has_control_characters, one_line
from organizations.models import (
    ADDRESS_MAX,
    CONTACT_MAX,
    DESCRIPTION_MAX,
    FILENAME_MAX,
    LEGAL_BASIS_MAX,
    NAME_MAX,
    NOTE_MAX,
    SLUG_MAX,
    MemberRole,
    Organization,
    OrganizationDocument,
    OrganizationMember,
    OrganizationType,
)

DOCUMENT_KIND = "organization-documents"  # amanah.evidence folder: never published
# Both ways an NPWP is written: the 15-digit 99.999.999.9-999.999 and the 16-digit one (the NIK
# for residents, or 0 + the old number) used since 2024. Dots, dashes and spaces are accepted.
NPWP_SHAPE = re.compile(r"^[0-9.\- ]+$")

TYPE_LABELS = {
    OrganizationType.FOUNDATION: _l("NGO or foundation (LSM/yayasan)"),
    OrganizationType.GOVERNMENT: _l("Government body"),
    OrganizationType.BUSINESS: _l("Business or CSR programme"),
    OrganizationType.COMMUNITY: _l("Community group"),
    OrganizationType.RELIGIOUS: _l("Religious institution"),
}
ROLE_LABELS = {MemberRole.ORGANIZER: _l("Organizer"), MemberRole.TREASURER: _l("Treasurer")}


def type_label(value: str) -> str:
    return str(TYPE_LABELS.get(value, value))


def role_label(value: str) -> str:
    return str(ROLE_LABELS.get(value, value))


def normalize_npwp(text: str | None) -> str | None:
    """The NPWP's digits (15 or 16), None when empty; UserError when it is not an NPWP."""
    text = (text or "").strip()
    if not text:
        return None
    digits = re.sub(r"[.\- ]", "", text)
    if not NPWP_SHAPE.match(text) or len(digits) not in (15, 16):
        raise UserError(_l("An NPWP has 15 or 16 digits, e.g. 01.234.567.8-901.000."), field="npwp")
    return digits


def format_npwp(digits: str | None) -> str:
    """As printed on the card: 01.234.567.8-901.000 (15 digits); 16 digits are shown as they are."""
    if not digits:
        return ""
    if len(digits) == 15:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{digits[9:12]}.{digits[12:]}"
    return digits


@dataclasses.dataclass
class OrganizationInput:
    name: str = ""
    type: str = ""
    legal_basis: str = ""
    address: str = ""
    npwp: str = ""
    contact: str = ""
    description: str = ""


def _check(data: OrganizationInput) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    clean: dict = {}

    def text(field: str, value: str, high: int, required, single_line: bool = True):
        value = one_line(value) if single_line else (value or "").strip()
        if not value and required:
            errors[field] = str(required)
        elif len(value) > high:
            errors[field] = str(_l("At most %(n)d characters.", n=high))
        elif has_control_characters(value):
            errors[field] = str(_l("Remove the control characters from this text."))
        clean[field] = value

    text("name", data.name, NAME_MAX, _l("Enter the organization's name."))
    text("legal_basis", data.legal_basis, LEGAL_BASIS_MAX, _l(
        "Enter its legal basis, e.g. the Kemenkumham decree of a yayasan or the regulation that "
        "set up a government body."))
    text("address", data.address, ADDRESS_MAX, _l("Enter its address."), single_line=False)
    text("contact", data.contact, CONTACT_MAX, _l("Enter a public e-mail address or phone number."))
    text("description", data.description, DESCRIPTION_MAX, _l("Describe what the organization does."),
         single_line=False)
    if data.type not in {t.value for t in OrganizationType}:
        errors["type"] = str(_l("Choose the kind of organization."))
    clean["type"] = data.type
    try:
        clean["npwp"] = normalize_npwp(data.npwp)
    except UserError as exc:
        errors["npwp"] = str(exc.message)
    return clean, errors


def _unique_slug(name: str) -> str:
    base = ascii_slug(name, SLUG_MAX - 5) or "organisasi"
    slug, n = base, 1
    while db.session.scalar(sa.select(Organization.id).where(Organization.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_organization(creator: User, data: OrganizationInput) -> Organization:
    """A new, unverified organization; its creator is its first organizer."""
    clean, errors = _check(data)
    if errors:
        raise ValidationError(errors)
    org = Organization(slug=_unique_slug(clean["name"]), created_by_id=creator.id, **clean)
    org.members.append(OrganizationMember(user_id=creator.id, role=MemberRole.ORGANIZER.value))
    db.session.add(org)
    db.session.flush()
    return org


# What the verification vouches for: changing any of these takes the badge away until an admin
# has looked again.
VERIFIED_FIELDS = ("name", "type", "legal_basis", "npwp")


def update_organization(org: Organization, data: OrganizationInput) -> Organization:
    clean, errors = _check(data)
    if errors:
        raise ValidationError(errors)
    changed_identity = any(getattr(org, f) != clean[f] for f in VERIFIED_FIELDS)
    for field, value in clean.items():
        setattr(org, field, value)
    if changed_identity and org.is_verified:
        org.verified_at, org.verified_by_id = None, None
        org.verification_note = str(_l("Its name, kind, legal basis or NPWP changed after it was verified."))
    db.session.flush()
    return org


def add_member(org: Organization, email: str, role: str) -> OrganizationMember:
    """Add a registered user by e-mail address with a role in the organization."""
    if role not in {r.value for r in MemberRole}:
        raise UserError(_l("Choose a role."), field="role")
    user = db.session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.is_active:
        raise UserError(_l("No active account has this e-mail address. Ask them to register first."),
                        field="email")
    if org.has_member(user, MemberRole(role)):
        raise UserError(_l("%(name)s already has this role here.", name=user.display_name), field="email")
    member = OrganizationMember(user_id=user.id, role=role)
    org.members.append(member)
    db.session.flush()
    return member


def remove_member(org: Organization, member_id: int) -> None:
    member = next((m for m in org.members if m.id == member_id), None)
    if member is None:
        raise UserError(_l("This person is not a member of the organization."))
    organizers = [m for m in org.members if m.role == MemberRole.ORGANIZER]
    if member.role == MemberRole.ORGANIZER and len(organizers) == 1:
        raise UserError(_l("An organization keeps at least one organizer."))
    org.members.remove(member)
    db.session.flush()


def add_document(org: Organization, uploader: User, data: bytes, title: str) -> OrganizationDocument:
    """Keep a verification paper privately, by its SHA-256 (photos lose their metadata first)."""
    title = one_line(title)[:FILENAME_MAX]
    if not title:
        raise UserError(_l("Say what the document is, e.g. “Akta pendirian”."), field="title")
    if not data:
        raise UserError(_l("Choose a file."), field="document")
    try:
        checked = evidence.inspect(data)
    except evidence.EvidenceError as exc:
        raise UserError(str(exc), field="document") from None
    if any(d.sha256 == checked.sha256 for d in org.documents):
        raise UserError(_l("This document has been uploaded already."), field="document")
    evidence.store(checked, DOCUMENT_KIND)
    document = OrganizationDocument(sha256=checked.sha256, content_type=checked.content_type,
                                    size=len(checked.data), title=title, uploaded_by_id=uploader.id)
    org.documents.append(document)
    db.session.flush()
    return document


def send_document(document: OrganizationDocument, download_name: str):
    """The paper as a download (FileNotFoundError when missing); the caller checked who asks."""
    return evidence.send(document.sha256, document.content_type, kind=DOCUMENT_KIND, as_attachment=True,
                         download_name=download_name)


def verify(org: Organization, admin: User, note: str) -> Organization:
    note = (note or "").strip()
    if not org.documents:
        raise UserError(_l("An organization is verified from its documents: none has been uploaded."))
    if not note:
        raise UserError(_l("Say what you checked, e.g. the decree number against AHU online."), field="note")
    if len(note) > NOTE_MAX:
        raise UserError(_l("At most %(n)d characters.", n=NOTE_MAX), field="note")
    org.verified_at, org.verified_by_id, org.verification_note = now_utc(), admin.id, note
    db.session.flush()
    return org


def revoke(org: Organization, note: str) -> Organization:
    note = (note or "").strip()
    if not note:
        raise UserError(_l("Say why the verification is withdrawn."), field="note")
    org.verified_at, org.verified_by_id, org.verification_note = None, None, note[:NOTE_MAX]
    db.session.flush()
    return org


def get_by_slug(slug: str) -> Organization | None:
    return db.session.scalar(sa.select(Organization).where(Organization.slug == slug))


def directory() -> list[Organization]:
    """Every organization, verified ones first, then by name."""
    return list(db.session.scalars(sa.select(Organization).order_by(
        Organization.verified_at.is_(None), sa.func.lower(Organization.name))))


def organizations_of(user: User, role: MemberRole | None = None) -> list[Organization]:
    query = sa.select(Organization).join(OrganizationMember).where(OrganizationMember.user_id == user.id)
    if role is not None:
        query = query.where(OrganizationMember.role == role.value)
    return list(db.session.scalars(query.distinct().order_by(Organization.name)))


def awaiting_verification() -> list[Organization]:
    """Unverified organizations that have sent documents: the admins' queue."""
    has_documents = sa.select(OrganizationDocument.id).where(
        OrganizationDocument.organization_id == Organization.id).exists()
    return list(db.session.scalars(sa.select(Organization).where(
        Organization.verified_at.is_(None), has_documents).order_by(Organization.created_at)))
