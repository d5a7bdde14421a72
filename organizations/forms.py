"""Forms only turn what people type into values; organizations.services decides what is acceptable."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from organizations.models import MemberRole, OrganizationType
from organizations.services import ROLE_LABELS, TYPE_LABELS, OrganizationInput


class OrganizationForm(FlaskForm):
    name = StringField(_l("Name"))
    type = SelectField(_l("Kind of organization"), validate_choice=False)
    legal_basis = StringField(_l("Legal basis"), description=_l(
        "For a yayasan or perkumpulan, the Kemenkumham decree number (SK AHU); for a government body, "
        "the regulation that set it up; for a community group, the village head's letter."))
    npwp = StringField(_l("NPWP (tax number)"), description=_l(
        "Optional for community groups. 15 or 16 digits, e.g. 01.234.567.8-901.000."))
    address = TextAreaField(_l("Address"))
    contact = StringField(_l("Public contact"), description=_l(
        "An e-mail address or phone number donors may use."))
    description = TextAreaField(_l("What the organization does"), description=_l(
        "Markdown works: **bold**, lists, links."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = ((t.value, TYPE_LABELS[t]) for t in OrganizationType)
        self.type.choices = [("", _l("Choose a kind")), *kinds]

    def to_input(self) -> OrganizationInput:
        return OrganizationInput(name=self.name.data or "", type=self.type.data or "",
                                 legal_basis=self.legal_basis.data or "", address=self.address.data or "",
                                 npwp=self.npwp.data or "", contact=self.contact.data or "",
                                 description=self.description.data or "")


class MemberForm(FlaskForm):
    email = StringField(_l("E-mail address of their account"))
    role = SelectField(_l("Role"), validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [(r.value, ROLE_LABELS[r]) for r in MemberRole]


class DocumentForm(FlaskForm):
    title = StringField(_l("What the document is"), description=_l(
        "E.g. “Akta pendirian”, “SK Kemenkumham”, “Kartu NPWP”."))
    document = FileField(_l("File"), description=_l(
        "PDF, JPEG or PNG. Only admins and this organization's organizers can open it."))


class VerifyForm(FlaskForm):
    note = TextAreaField(_l("What you checked"))
