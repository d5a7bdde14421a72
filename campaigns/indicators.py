"""Outcome indicators: what a campaign promises to achieve, measured from a baseline to a target.

An organizer declares them with the campaign; more may be added after publication, each addition
recorded as a campaign revision. Values are typed as people write numbers in their language
("1.250,5" in Indonesian, "1,250.5" in English) and kept as integer hundredths of the unit.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask import current_app
from flask_babel import lazy_gettext as _l

from accounts.models import User
from accounts.permissions import Action, can
from amanah.errors import UserError, ValidationError
from amanah.extensions import db
from amanah.i18n import current_locale, format_wib_date
from amanah.text import has_control_characters, one_line
from campaigns.models import (
    INDICATOR_NAME_MAX,
    INDICATOR_UNIT_MAX,
    Campaign,
    CampaignIndicator,
    CampaignRevision,
    IndicatorDirection,
    IndicatorKind,
)
from campaigns.services import today_wib

MAX_INDICATORS = 12
MAX_VALUE = 10**15  # hundredths: ten trillion of any unit is a typing mistake
KIND_LABELS = {IndicatorKind.COUNT: _l("A count (whole numbers)"),
               IndicatorKind.PERCENT: _l("A percentage (0 to 100)"),
               IndicatorKind.MEASURE: _l("A measure (up to two decimals)")}
DIRECTION_LABELS = {IndicatorDirection.INCREASE: _l("More is better"),
                    IndicatorDirection.DECREASE: _l("Less is better")}


class IndicatorRefused(UserError):
    """The indicator may not be added or removed now; the message is for the user."""


@dataclasses.dataclass
class IndicatorInput:
    name: str = ""
    unit: str = ""
    kind: str = IndicatorKind.COUNT.value
    direction: str = IndicatorDirection.INCREASE.value
    baseline: str = ""
    target: str = ""
    due: dt.date | None = None


def parse_value(text: str, kind: str, locale: str | None = None) -> int:
    """A typed value as hundredths of its unit; UserError (naming no field) when it does not fit
    the kind: a count is whole, a percentage lies between 0 and 100, nothing is negative."""
    text = (text or "").strip()
    if not text:
        raise UserError(_l("Enter a number."))
    try:
        number = parse_decimal(text.replace(" ", ""), locale=locale or current_locale(), strict=True)
    except (NumberFormatError, InvalidOperation):
        raise UserError(_l("Write a number as usual in your language, e.g. 1.250 or 72,5.")) from None
    if not number.is_finite():  # "NaN", "Infinity": Babel parses them, and they compare with nothing
        raise UserError(_l("Write a number as usual in your language, e.g. 1.250 or 72,5."))
    if number < 0:
        raise UserError(_l("A value cannot be negative."))
    if kind == IndicatorKind.COUNT and number != number.to_integral_value():
        raise UserError(_l("This indicator counts whole things: no decimals."))
    if number.as_tuple().exponent < -2:
        raise UserError(_l("At most two decimals."))
    if kind == IndicatorKind.PERCENT and number > 100:
        raise UserError(_l("A percentage lies between 0 and 100."))
    hundredths = int(number * 100)
    if hundredths > MAX_VALUE:
        raise UserError(_l("This number is too large."))
    return hundredths


def format_value(hundredths: int, kind: str, unit: str = "", locale: str | None = None) -> str:
    """84 balita, 72,5%, 1.250,75 km: in the reader's language, with its unit."""
    number = Decimal(hundredths) / 100
    pattern = "#,##0" if kind == IndicatorKind.COUNT else "#,##0.##"
    text = format_decimal(number, format=pattern, locale=locale or current_locale())
    if kind == IndicatorKind.PERCENT:
        return f"{text}%"
    return f"{text} {unit}".strip()


def _texts(data: IndicatorInput, errors: dict[str, str]) -> tuple[str, str]:
    name, unit = one_line(data.name), one_line(data.unit)
    for field, value, high, empty in (
            ("name", name, INDICATOR_NAME_MAX, _l("Name the indicator, e.g. “toddlers weighed monthly”.")),
            ("unit", unit, INDICATOR_UNIT_MAX, _l("Name its unit, e.g. “toddlers”, “wells”, “students”."))):
        if not value:
            errors[field] = str(empty)
        elif len(value) > high:
            errors[field] = str(_l("Write at most %(num)d characters.", num=high))
        elif has_control_characters(value):
            errors[field] = str(_l("Remove the control characters from this text."))
    return name, unit


def _values(data: IndicatorInput, errors: dict[str, str]) -> dict[str, int]:
    values = {}
    for field in ("baseline", "target"):
        try:
            values[field] = parse_value(getattr(data, field), data.kind)
        except UserError as exc:
            errors[field] = str(exc.message)
    if "baseline" in values and "target" in values and "direction" not in errors:
        if data.direction == IndicatorDirection.INCREASE and values["target"] <= values["baseline"]:
            errors["target"] = str(_l("When more is better, the target must be above the baseline."))
        elif data.direction == IndicatorDirection.DECREASE and values["target"] >= values["baseline"]:
            errors["target"] = str(_l("When less is better, the target must be below the baseline."))
    return values


def _clean(data: IndicatorInput) -> dict:
    errors: dict[str, str] = {}
    name, unit = _texts(data, errors)
    if data.kind not in {k.value for k in IndicatorKind}:
        errors["kind"] = str(_l("Choose what kind of number it is."))
    if data.direction not in {d.value for d in IndicatorDirection}:
        errors["direction"] = str(_l("Say whether more or less is better."))
    values = _values(data, errors)
    if data.due is None:
        errors["due"] = str(_l("Enter the date by which the target should be reached."))
    elif data.due <= today_wib():
        errors["due"] = str(_l("The target date must be in the future."))
    if errors:
        raise ValidationError(errors)
    return {"name": name, "unit": unit, "kind": data.kind, "direction": data.direction,
            "baseline": values["baseline"], "target": values["target"], "due": data.due}


def add_indicator(campaign: Campaign, actor: User, data: IndicatorInput) -> CampaignIndicator:
    """Declare an indicator. On a public campaign this is recorded as a revision: donors can see
    when each promise was added."""
    if not can(actor, Action.EDIT_CAMPAIGN, campaign):
        raise IndicatorRefused(_l("Only the campaign's organizer adds indicators, while it can be edited."))
    if len(campaign.indicators) >= MAX_INDICATORS:
        raise IndicatorRefused(_l("A campaign has at most %(num)d indicators.", num=MAX_INDICATORS))
    clean = _clean(data)
    before = [i.snapshot() for i in campaign.indicators]
    indicator = CampaignIndicator(created_by_id=actor.id, **clean)
    campaign.indicators.append(indicator)
    db.session.flush()
    if campaign.is_public:
        db.session.add(CampaignRevision(campaign_id=campaign.id, editor_id=actor.id, changes={
            "indicators": {"before": before, "after": [i.snapshot() for i in campaign.indicators]}}))
        db.session.flush()
    return indicator


def remove_indicator(campaign: Campaign, actor: User, indicator_id: int) -> None:
    """Only before publication: afterwards an indicator is part of what donors gave for."""
    if not can(actor, Action.EDIT_CAMPAIGN, campaign):
        raise IndicatorRefused(_l("Only the campaign's organizer removes indicators."))
    if campaign.published_at is not None:
        raise IndicatorRefused(_l("Once a campaign has been published its indicators stay; add a new one "
                                  "and explain the change in an update."))
    indicator = next((i for i in campaign.indicators if i.id == indicator_id), None)
    if indicator is None:
        raise IndicatorRefused(_l("This campaign has no such indicator."))
    campaign.indicators.remove(indicator)
    db.session.delete(indicator)
    db.session.flush()


def describe(snapshot: dict) -> str:
    """One recorded indicator in a sentence, for the revisions page (the date in the reader's
    language, "4 April 2027", as everywhere else; the revision records it as an ISO date)."""
    return str(_l("%(name)s: from %(baseline)s to %(target)s by %(due)s",
                  name=snapshot["name"],
                  baseline=format_value(snapshot["baseline"], snapshot["kind"], snapshot["unit"]),
                  target=format_value(snapshot["target"], snapshot["kind"], snapshot["unit"]),
                  due=format_wib_date(dt.date.fromisoformat(snapshot["due"]))))


@dataclasses.dataclass(frozen=True)
class Progress:
    """An indicator as the campaign page shows it: baseline -> latest -> target."""
    indicator: CampaignIndicator
    latest: int | None  # hundredths; None until a progress report gives a value

    def text(self, value: int | None) -> str:
        if value is None:
            return str(_l("no report yet"))
        return format_value(value, self.indicator.kind, self.indicator.unit)

    @property
    def percent(self) -> int:
        """How far from the baseline toward the target, 0 to 100 (past the target counts as 100)."""
        if self.latest is None:
            return 0
        span = self.indicator.target - self.indicator.baseline
        done = (self.latest - self.indicator.baseline) * 100 // span
        return max(0, min(100, done))


_VALUES_SOURCE = "campaign_indicator_values"


def register_values_source(app, source) -> None:
    """The reports package hands over where the latest values come from (campaign -> {indicator
    id: hundredths}), so that campaigns does not import it."""
    app.extensions[_VALUES_SOURCE] = source


def progress_of(campaign: Campaign) -> list[Progress]:
    source = current_app.extensions.get(_VALUES_SOURCE)
    latest = source(campaign) if source is not None and campaign.indicators else {}
    return [Progress(indicator, latest.get(indicator.id)) for indicator in campaign.indicators]
