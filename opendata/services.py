"""Reading the aggregates: filters, the dashboard's series, where help is short, the open-data rows.

Every figure about money, gifts, donors and campaigns comes from the stored aggregates
(opendata.aggregates), read in one statement together with the ledger's size, so a reader sees the
buckets exactly as they stood after that many entries. Goals come from the campaigns table, in
grouped queries: a goal is not a ledger figure.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from babel.dates import format_date
from flask_babel import lazy_gettext as _l

from amanah.errors import FilterError
from campaigns import categories, regions
from campaigns.lifecycle import Status
from campaigns.models import Campaign
from campaigns.search import totals_columns
from campaigns.services import CAMPAIGN_CURRENCIES, today_wib
from ledger import queries
from ledger.models import CampaignTotal, LedgerCheckpoint, LedgerEntry
from opendata.aggregates import COUNTS, KEY, MONEY
from opendata.models import ALL, Aggregate

DEFAULT_CURRENCY = "IDR"
LICENCE = {"name": "Creative Commons Attribution 4.0 International", "identifier": "CC-BY-4.0",
           "url": "https://creativecommons.org/licenses/by/4.0/"}
MEASURES = {
    "raised": _l("Raised"),
    "refunded": _l("Refunded"),
    "chargebacks": _l("Chargebacks"),
    "fees": _l("Processing fees"),
    "disbursed": _l("Disbursed"),
    "gifts": _l("Gifts"),
    "donors": _l("Donors"),
    "campaigns": _l("Campaigns with entries"),
}
MONEY_MEASURES = frozenset(MONEY)
ROW_FIELDS = (*KEY, *MONEY, *COUNTS, "first_seq", "last_seq")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])\Z")


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    province: str | None = None
    since: str | None = None  # first month included, YYYY-MM (WIB)
    until: str | None = None  # last month included
    currency: str = DEFAULT_CURRENCY
    measure: str = "raised"

    @property
    def ranged(self) -> bool:
        return bool(self.since or self.until)

    def in_range(self, month: str) -> bool:
        return (not self.since or month >= self.since) and (not self.until or month <= self.until)

    def as_args(self) -> dict[str, str]:
        args = {"category": self.category, "province": self.province, "from": self.since, "to": self.until,
                "currency": self.currency, "measure": self.measure}
        return {k: v for k, v in args.items() if v}


def parse_filters(args, *, with_measure: bool = True) -> Filters:
    """Filters from query parameters; a bad one raises FilterError naming it (an empty value is
    "all"). Unknown categories, provinces, currencies and measures are refused, never ignored."""
    def value(name: str) -> str | None:
        raw = args.get(name, "")
        return raw.strip() or None

    category, province = value("category"), value("province")
    if category is not None and category not in categories.CODES:
        raise FilterError("category", _l("Choose one of the categories."))
    if province is not None and province not in regions.CODES:
        raise FilterError("province", _l("Choose one of Indonesia's provinces."))
    months = {}
    for name in ("from", "to"):
        months[name] = value(name)
        if months[name] is not None and not _MONTH.match(months[name]):
            raise FilterError(name, _l("Give a month as YYYY-MM, for example 2026-03."))
    if months["from"] and months["to"] and months["from"] > months["to"]:
        raise FilterError("to", _l("The last month cannot come before the first."))
    currency = value("currency") or DEFAULT_CURRENCY
    if currency not in CAMPAIGN_CURRENCIES:
        raise FilterError("currency", _l("Choose one of the currencies campaigns raise money in."))
    measure = value("measure") or "raised"
    if with_measure and measure not in MEASURES:
        raise FilterError("measure", _l("Choose one of the measures."))
    return Filters(category, province, months["from"], months["to"], currency,
                   measure if with_measure else "raised")


# ---- one consistent read ----

_LEDGER_SIZE = sa.select(sa.func.coalesce(sa.func.max(LedgerEntry.seq) + 1, 0)).scalar_subquery()


@dataclass
class Snapshot:
    ledger_size: int
    rows: list[dict]


def read_rows(*conditions) -> Snapshot:
    """The aggregates rows matching `conditions`, with the ledger's size, in one statement (one
    database snapshot: no append can fall between the two)."""
    table = Aggregate.__table__
    query = (sa.select(_LEDGER_SIZE.label("ledger_size"), *(table.c[c] for c in ROW_FIELDS))
             .where(*conditions).order_by(*(table.c[c] for c in KEY)))
    with queries.reader() as source:  # an autocommit connection on PostgreSQL: one round trip
        result = source.execute(query).mappings().all()
        if not result:
            return Snapshot(source.execute(sa.select(_LEDGER_SIZE)).scalar_one(), [])
    return Snapshot(result[0]["ledger_size"], [{c: row[c] for c in ROW_FIELDS} for row in result])


def open_data_rows(filters: Filters) -> Snapshot:
    """The rows the CSV and JSON publish: of the filter's currency, category and province (with the
    rows that total over the others), and of its months (all months and the all-time rows when it
    names none)."""
    t = Aggregate.__table__
    conditions = [t.c.currency == filters.currency]
    if filters.category:
        conditions.append(t.c.category == filters.category)
    if filters.province:
        conditions.append(t.c.province == filters.province)
    if filters.ranged:
        conditions.append(t.c.month != ALL)
        if filters.since:
            conditions.append(t.c.month >= filters.since)
        if filters.until:
            conditions.append(t.c.month <= filters.until)
    return read_rows(*conditions)


def _all(statement) -> list:
    with queries.reader() as source:
        return source.execute(statement).all()


def signed_size(ledger_size: int) -> int | None:
    """The smallest signed checkpoint that covers `ledger_size` entries (None: none yet): the tree
    an auditor checks the export against."""
    return _all(sa.select(sa.func.min(LedgerCheckpoint.size))
                .where(LedgerCheckpoint.size >= ledger_size))[0][0]


# ---- the dashboard ----

@dataclass
class Dashboard:
    filters: Filters
    ledger_size: int
    months: list[tuple[str, int]] = field(default_factory=list)  # (YYYY-MM, value) in order
    by_category: list[tuple[str, int]] = field(default_factory=list)
    by_province: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    # Donors and campaigns over several months: a donor who gave in two months counts in both.
    summed_over_months: bool = False


def _fill_months(values: dict[str, int], since: str | None, until: str | None) -> list[tuple[str, int]]:
    """Every month from the first to the last (a month without entries shows as 0)."""
    if not values and not (since and until):
        return []
    first = since or min(values)
    last = until or max(values, default=first)
    year, month = int(first[:4]), int(first[5:])
    found = []
    while f"{year:04d}-{month:02d}" <= last and len(found) < 600:
        key = f"{year:04d}-{month:02d}"
        found.append((key, values.get(key, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def dashboard(filters: Filters) -> Dashboard:
    """The chosen measure over the months, by category and by province, for the filters."""
    t = Aggregate.__table__
    category, province = filters.category or ALL, filters.province or ALL
    month_condition = [t.c.month != ALL] if filters.ranged else []
    if filters.since:
        month_condition.append(t.c.month >= filters.since)
    if filters.until:
        month_condition.append(t.c.month <= filters.until)
    snapshot = read_rows(t.c.currency == filters.currency,
                         sa.or_(t.c.category == category, t.c.province == province), *month_condition)
    measure = filters.measure
    board = Dashboard(filters, snapshot.ledger_size)
    monthly: dict[str, int] = {}
    by_category: dict[str, int] = defaultdict(int)
    by_province: dict[str, int] = defaultdict(int)
    # Without a range, the all-time rows give exact distinct donors and campaigns per category and
    # province; with one, the months in it are added up.
    wanted_month = (lambda m: m != ALL) if filters.ranged else (lambda m: m == ALL)
    for row in snapshot.rows:
        month, value = row["month"], row[measure]
        if row["category"] == category and row["province"] == province:
            if month != ALL:
                monthly[month] = value
            if wanted_month(month):
                board.total += value
        if wanted_month(month):
            if row["province"] == province and row["category"] not in (ALL, ""):
                by_category[row["category"]] += value
            if row["category"] == category and row["province"] not in (ALL, ""):
                by_province[row["province"]] += value
    board.months = _fill_months(monthly, filters.since, filters.until)
    board.by_category = [(code, by_category.get(code, 0)) for code in categories.CODES]
    board.by_province = sorted(((code, v) for code, v in by_province.items() if v),
                               key=lambda item: (-item[1], item[0]))
    board.summed_over_months = filters.ranged and measure in ("donors", "campaigns") and len(monthly) > 1
    return board


# ---- where help is short ----

@dataclass(frozen=True)
class Shortfall:
    code: str
    campaigns: int
    goals: int
    raised: int  # net of refunds and chargebacks, as campaign pages show it
    short: int  # the sum of each campaign's goal minus raised, where that is positive


def _active_conditions(filters: Filters) -> list:
    conditions = [Campaign.status == Status.PUBLISHED.value, Campaign.deadline >= today_wib(),
                  Campaign.currency == filters.currency]
    if filters.category:
        conditions.append(Campaign.category == filters.category)
    if filters.province:
        conditions.append(Campaign.region == filters.province)
    return conditions


def shortfalls(filters: Filters, by: str) -> list[Shortfall]:
    """Open campaigns' goals against what they raised, grouped by "category" or "province", the
    shortest of money first. One grouped query over the campaigns and their running totals."""
    raised, refunded, chargebacks, *_ = totals_columns()
    net = raised - refunded - chargebacks
    column = Campaign.category if by == "category" else Campaign.region
    short = sa.func.sum(sa.case((Campaign.goal > net, Campaign.goal - net), else_=0))
    query = (sa.select(column, sa.func.count(), sa.func.sum(Campaign.goal), sa.func.sum(net), short)
             .select_from(sa.outerjoin(Campaign, CampaignTotal, CampaignTotal.campaign == Campaign.public_id))
             .where(*_active_conditions(filters)).group_by(column))
    found = [Shortfall(code, count, int(goals or 0), int(got or 0), int(gap or 0))
             for code, count, goals, got, gap in _all(query)]
    return sorted(found, key=lambda s: (-s.short, s.code))


# ---- for the map ----

@dataclass(frozen=True)
class ProvinceTotals:
    currency: str
    raised: int = 0
    refunded: int = 0
    chargebacks: int = 0
    fees: int = 0
    disbursed: int = 0
    donors: int = 0  # distinct donors who gave to the province's campaigns, all time
    active_campaigns: int = 0  # published, deadline not passed


def province_totals(category: str | None = None,
                    currency: str = DEFAULT_CURRENCY) -> dict[str, ProvinceTotals]:
    """Every province (BPS code) with its all-time figures in `currency` (integer minor units), for
    one category or all: from the aggregates' all-time rows, and the open campaigns counted in one
    grouped query. Raises FilterError for an unknown category."""
    filters = parse_filters({"category": category or "", "currency": currency}, with_measure=False)
    t = Aggregate.__table__
    snapshot = read_rows(t.c.currency == filters.currency, t.c.month == ALL,
                         t.c.category == (filters.category or ALL), t.c.province != ALL)
    active = dict(_all(sa.select(Campaign.region, sa.func.count()).where(*_active_conditions(filters))
                       .group_by(Campaign.region)))
    figures = {row["province"]: row for row in snapshot.rows}
    result = {}
    for code in regions.CODES:
        row = figures.get(code, {})
        result[code] = ProvinceTotals(filters.currency, **{c: row.get(c, 0) for c in (*MONEY, "donors")},
                                      active_campaigns=active.get(code, 0))
    return result


def month_label(month: str, locale: str) -> str:
    """"Mar 2026" / "Mar 2026" in the reader's language."""
    return format_date(dt.date(int(month[:4]), int(month[5:]), 1), "MMM y", locale=locale)


def currencies() -> list[str]:
    """The currencies the aggregates hold money in (one index range: the all-time totals)."""
    t = Aggregate.__table__
    return [c for (c,) in _all(sa.select(t.c.currency).where(
        t.c.month == ALL, t.c.category == ALL, t.c.province == ALL).order_by(t.c.currency))]


# ---- the open data files ----

FIELDS = {
    "month": "YYYY-MM in WIB (Asia/Jakarta, UTC+7) of the entries' `at`, or * for all months",
    "category": "the campaign's category (social, education, health, economy, culture, digital) when "
                "the entry was appended, * for all, empty for a campaign not in the campaigns table",
    "province": "the campaign's province, a BPS two-digit code, when the entry was appended; * for all",
    "currency": "ISO 4217 code; money is in its minor units (integers)",
    "raised": "sum of `donation` amounts",
    "refunded": "sum of `refund` amounts (as positive) less `refund_reversal` amounts",
    "chargebacks": "sum of `chargeback` amounts (as positive) less `chargeback_reversal` amounts",
    "fees": "sum of `fee` amounts (as positive) less `fee_reversal` amounts",
    "disbursed": "sum of `disbursement` amounts (as positive) less `disbursement_reversal` amounts",
    "gifts": "number of `donation` entries",
    "donors": "distinct donors among those gifts (an account, or an e-mail address for a guest; "
              "anonymous gifts count); not in the ledger, which keeps no identity",
    "campaigns": "distinct campaigns with an entry counted in the row",
    "entries": "number of entries counted (every kind but `report`)",
    "first_seq": "seq of the first ledger entry counted in the row",
    "last_seq": "seq of the last ledger entry counted in the row",
}
NOTES = ("Rows where month, category or province is * total over that dimension: donors and "
         "campaigns there are distinct, not sums, so do not add them to the other rows. "
         "Every money figure and count but donors can be recomputed from the ledger's export "
         "(/ledger/export.jsonl?end=<ledger_size>, verified against a signed checkpoint) and each "
         "campaign's category and province (/api/v1/campaigns).")


def open_data_document(filters: Filters, snapshot: Snapshot, site: str) -> dict:
    """The JSON file: licence, provenance (the ledger size the rows were read at and the signed
    checkpoint that covers it), what each field means, and the rows."""
    return {
        "title": "Amanah: giving by month, category and province",
        "licence": LICENCE,
        "attribution": f"Amanah ({site.rstrip('/')}), from its public ledger",
        "ledger_size": snapshot.ledger_size,
        "checkpoint_size": signed_size(snapshot.ledger_size),
        "ledger_export": f"{site.rstrip('/')}/ledger/export.jsonl?end={snapshot.ledger_size}",
        "month_timezone": "Asia/Jakarta (WIB, UTC+7)",
        "filters": {k: v for k, v in filters.as_args().items() if k != "measure"},
        "fields": FIELDS,
        "notes": NOTES,
        "rows": snapshot.rows,
    }


def csv_preamble(filters: Filters, snapshot: Snapshot, site: str) -> list[str]:
    """The CSV's first lines, each after `# ` (pandas: comment="#")."""
    document = open_data_document(filters, snapshot, site)
    return [
        f"{document['title']}. Licence: {LICENCE['name']} ({LICENCE['identifier']}, {LICENCE['url']}); "
        f"attribution: {document['attribution']}.",
        f"ledger_size={snapshot.ledger_size} checkpoint_size={document['checkpoint_size'] or ''} "
        f"months in {document['month_timezone']}; fields are described in /data/aggregates.json.",
        NOTES,
    ]
