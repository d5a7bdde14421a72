"""The dashboard's SVG charts, drawn by the ledger's chart module (ledger.charts) with translated
labels: the measure over the months (a line) and by category and by province (bars). Each chart's
figures are also in a table on the page."""
from __future__ import annotations

from collections.abc import Callable

from flask_babel import format_number
from flask_babel import gettext as _
from markupsafe import Markup

from amanah.i18n import current_locale, format_money
from campaigns import categories, regions
from ledger import charts
from opendata.services import MEASURES, MONEY_MEASURES, Dashboard, Shortfall, month_label


def value_formatter(measure: str, currency: str) -> Callable[[int], str]:
    if measure in MONEY_MEASURES:
        return lambda value: format_money(value, currency)
    return format_number


def shortfall_chart(rows: list[Shortfall], currency: str) -> Markup | None:
    """What open campaigns still lack, by province, largest first (the table beside it has it all)."""
    short = [(province_name(row.code), row.short) for row in rows if row.short > 0]
    if not short:
        return None
    return Markup(charts.bar_chart(  # noqa: S704 - built with escape()
        short, title=_("Where help is short: by province"),
        desc=_("One bar per province with open campaigns short of their goals, largest first; the "
               "table below gives the goals, what was raised and what is short."),
        value_text=lambda value: format_money(value, currency), element_id="chart-short"))


def dashboard_charts(board: Dashboard) -> dict[str, Markup]:
    filters = board.filters
    measure = str(MEASURES[filters.measure])
    text = value_formatter(filters.measure, filters.currency)
    locale = current_locale()
    where = _where(filters.category, filters.province)
    found = {}
    if board.months:
        found["months"] = Markup(charts.line_chart(  # noqa: S704 - built with escape()
            [(month_label(m, locale), v) for m, v in board.months],
            title=_("%(measure)s by month, %(where)s", measure=measure, where=where),
            desc=_("A line over the months from %(first)s to %(last)s; the table below gives each "
                   "month's figure.", first=month_label(board.months[0][0], locale),
                   last=month_label(board.months[-1][0], locale)),
            axis=text, element_id="chart-months"))
    found["categories"] = Markup(charts.bar_chart(  # noqa: S704 - built with escape()
        [(category_name(code), v) for code, v in board.by_category],
        title=_("%(measure)s by category", measure=measure),
        desc=_("One bar per category; the table below gives the same figures."),
        value_text=text, element_id="chart-categories"))
    if board.by_province:
        found["provinces"] = Markup(charts.bar_chart(  # noqa: S704 - built with escape()
            [(province_name(code), v) for code, v in board.by_province],
            title=_("%(measure)s by province", measure=measure),
            desc=_("One bar per province with any, largest first; the table below gives the same figures."),
            value_text=text, element_id="chart-provinces"))
    return found


def category_name(code: str) -> str:
    """A category's label; "" is a campaign the campaigns table does not know."""
    return categories.label(code) if code in categories.CODES else _("Not listed")


def province_name(code: str) -> str:
    return regions.name(code) if code in regions.CODES else _("Not listed")


def _where(category: str | None, province: str | None) -> str:
    parts = [categories.label(category) if category else _("all categories"),
             regions.name(province) if province else _("all provinces")]
    return ", ".join(parts)
