"""How the ledger's figures are shown: the names of entry kinds and a campaign's chart."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from babel.numbers import format_compact_currency
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from amanah import money
from amanah.i18n import current_locale, format_money
from ledger import charts
from ledger.caches import ChartPoint, chart_series

if TYPE_CHECKING:  # annotations only: queries imports this module
    from ledger.queries import CampaignFinances

KIND_LABELS = {
    "donation": _l("Donation"),
    "refund": _l("Refund"),
    "chargeback": _l("Chargeback"),
    "chargeback_reversal": _l("Chargeback reversed"),
    "refund_reversal": _l("Refund reversed"),
    "fee": _l("Processing fee"),
    "fee_reversal": _l("Estimated fee replaced"),
    "disbursement": _l("Disbursement"),
    "disbursement_reversal": _l("Disbursement reversed"),
    "report": _l("Progress report"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


@dataclass(frozen=True)
class Chart:
    svg: Markup
    points: list[ChartPoint]
    currency: str


def campaign_chart(finances: CampaignFinances, element_id: str = "finances-chart") -> Chart:
    """The SVG chart of cumulative money in and out, with the points for its text alternative."""
    points = chart_series(finances)
    locale = current_locale()
    currency = finances.currency

    def axis_money(minor: int) -> str:
        return format_compact_currency(money.to_decimal(minor, currency), currency, locale=locale,
                                       fraction_digits=1)

    labels = charts.Labels(
        title=str(_l("Money in and out of campaign %(campaign)s over time", campaign=finances.campaign)),
        desc=str(_l("Cumulative donations reach %(money_in)s and cumulative money out (refunds, "
                    "chargebacks, fees and disbursements) reaches %(money_out)s, leaving %(balance)s.",
                    money_in=format_money(finances.raised, currency),
                    money_out=format_money(finances.money_out, currency),
                    balance=format_money(finances.balance, currency))),
        money_in=str(_l("Money in")), money_out=str(_l("Money out")))
    svg = charts.cumulative_chart(points, labels, axis_money=axis_money, element_id=element_id,
                                  date=lambda at: format_date(at, "medium"))
    return Chart(svg=Markup(svg), points=points, currency=currency)  # noqa: S704 - built with escape()
