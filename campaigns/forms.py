"""Forms parse what people type; the rules about what is acceptable live in services.

Fields here only turn text into values (a localized amount into minor units, a date). Choice
fields do not check their own choices: services do, with a message in the visitor's language.
"""
from __future__ import annotations

from babel.numbers import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField, ValidationError

from amanah.i18n import current_locale, parse_money
from amanah.money import MoneyError, display_digits, to_decimal
from campaigns import categories, indicators, regions, services
from organizations import services as org_services
from organizations.models import MemberRole


def amount_text(minor: int, currency: str) -> str:
    """An amount as a person would type it in the current language, without the currency."""
    digits = display_digits(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(to_decimal(minor, currency), format=pattern, locale=current_locale(),
                          decimal_quantization=False)


def int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def treasurer_choices() -> list[tuple]:
    """Active users holding the treasurer role, after a blank prompt."""
    return [("", _l("Choose a treasurer")), *((u.id, u.display_name) for u in services.treasurers())]


class LocalDateField(DateField):
    """An <input type=date>; a value that is not a date gets a translated message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a date such as 2027-06-30.")) from None


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"))
    story = TextAreaField(_l("Story"), description=_l(
        "Why this campaign, who runs it and how the money will be used. Markdown works: "
        "**bold**, lists, links."))
    currency = SelectField(_l("Currency"), validate_choice=False, default="IDR")
    goal = StringField(_l("Goal"), description=_l(
        "The amount to raise, written as usual in your language, e.g. 25.000.000."))
    deadline = LocalDateField(_l("Deadline"), description=_l(
        "The last day of fundraising (Western Indonesian Time)."))
    category = SelectField(_l("Category"), validate_choice=False)
    region = SelectField(_l("Province"), validate_choice=False)
    city = StringField(_l("City or regency"))
    beneficiary = TextAreaField(_l("Beneficiaries"), description=_l(
        "Who will benefit, and how many people."))
    cover = FileField(_l("Cover image"), description=_l(
        "Optional. JPEG, PNG or WebP, at most 5 MB; it is resized and re-encoded."))
    treasurer_id = SelectField(_l("Treasurer"), coerce=int_or_none, validate_choice=False,
                               description=_l("The person who will record how the money is spent."))
    organization_id = SelectField(_l("Run by"), coerce=int_or_none, validate_choice=False, description=_l(
        "The organization donors give to through this campaign. It cannot change once the campaign is "
        "published."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency.choices = [(c, c) for c in services.CAMPAIGN_CURRENCIES]
        self.category.choices = [("", _l("Choose a category")), *categories.choices()]
        self.region.choices = [("", _l("Choose a province")), *regions.choices()]
        self.treasurer_id.choices = treasurer_choices()
        self.organization_id.choices = []
        self.goal_minor: int | None = None

    def offer_organizations(self, organizer, current=None) -> None:
        """The organizations `organizer` organizes for (and the campaign's own), and, where allowed,
        running it in person."""
        orgs = org_services.organizations_of(organizer, MemberRole.ORGANIZER) if organizer else []
        if current is not None and current not in orgs:
            orgs.append(current)
        personal = [("", _l("Myself, in person"))] if services.personal_campaigns_allowed() else \
            [("", _l("Choose an organization"))]
        self.organization_id.choices = [*personal, *((o.id, o.name) for o in orgs)]

    def validate_goal(self, field):
        # A form that sent no goal keeps the campaign's own (minor units, an int, from obj=): a goal
        # left out is a goal not entered.
        text = field.data.strip() if isinstance(field.data, str) else ""
        if not text:
            return  # services say "Enter the goal."
        try:
            self.goal_minor = parse_money(text, self.currency.data or "IDR")
        except MoneyError as exc:
            raise ValidationError(str(exc.args[0])) from None

    def to_input(self, cover: bytes | None) -> services.CampaignInput:
        return services.CampaignInput(
            title=self.title.data or "", story=self.story.data or "", goal=self.goal_minor,
            currency=self.currency.data or "", deadline=self.deadline.data, category=self.category.data or "",
            region=self.region.data or "", city=self.city.data or "", beneficiary=self.beneficiary.data or "",
            treasurer_id=self.treasurer_id.data, cover=cover, organization_id=self.organization_id.data)


class ActionForm(FlaskForm):
    """A button that changes state (submit, publish): only the CSRF token."""


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason for rejection"), description=_l(
        "The organizer sees this and can change the campaign before submitting it again."))


class CloseForm(FlaskForm):
    reason = TextAreaField(_l("Reason for closing (optional)"))


class UpdateForm(FlaskForm):
    title = StringField(_l("Title"))
    body = TextAreaField(_l("Update"), description=_l("Markdown works: **bold**, lists, links."))


class IndicatorForm(FlaskForm):
    name = StringField(_l("Indicator"), description=_l(
        "What will be measured, e.g. “toddlers weighed monthly”, “students passing the reading test”, "
        "“wells built”."))
    unit = StringField(_l("Unit"), description=_l(
        "What is counted or measured: toddlers, students, wells, km."))
    kind = SelectField(_l("Kind of number"), validate_choice=False)
    direction = SelectField(_l("Which way is better"), validate_choice=False)
    baseline = StringField(_l("Baseline"), description=_l("Where things stand now."))
    target = StringField(_l("Target"))
    due = LocalDateField(_l("Target date"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, label) for k, label in indicators.KIND_LABELS.items()]
        self.direction.choices = [(d.value, label) for d, label in indicators.DIRECTION_LABELS.items()]

    def to_input(self) -> indicators.IndicatorInput:
        return indicators.IndicatorInput(
            name=self.name.data or "", unit=self.unit.data or "", kind=self.kind.data or "",
            direction=self.direction.data or "", baseline=self.baseline.data or "",
            target=self.target.data or "", due=self.due.data)
