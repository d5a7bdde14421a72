"""Public browsing: filters, text search, sorting and paging, with the ledger's running totals.

Progress comes from `ledger_campaign_totals`, outer-joined on the campaign's public id: a
campaign without donations has no row there, which reads as zero.
"""
from __future__ import annotations

import dataclasses
import math

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from amanah.errors import FilterError
from amanah.extensions import db
from campaigns import categories, regions
from campaigns.lifecycle import PUBLIC_STATUSES, Status
from campaigns.models import SEARCH_CONFIG, Campaign, search_document
from ledger.models import CampaignTotal

SORTS = ("newest", "ending", "funded", "closest")
SORT_LABELS = {
    "newest": _l("Newest"),
    "ending": _l("Ending soon"),
    "funded": _l("Most funded"),
    "closest": _l("Closest to goal"),
}
PUBLIC_STATUS_CODES = tuple(s.value for s in PUBLIC_STATUSES)
QUERY_MAX = 200
MAX_PAGE = 10_000


@dataclasses.dataclass
class Filters:
    q: str = ""
    category: str | None = None
    region: str | None = None
    status: str | None = None  # published or closed; None for both
    sort: str = "newest"
    page: int = 1
    per_page: int = 12

    def as_args(self, **changes) -> dict[str, str | int]:
        """Query-string arguments for links (e.g. the next page), leaving out the defaults."""
        values = dataclasses.asdict(dataclasses.replace(self, **changes))
        values.pop("per_page")
        defaults = dataclasses.asdict(Filters())
        return {k: v for k, v in values.items() if v not in (None, "") and v != defaults[k]}


@dataclasses.dataclass(frozen=True)
class Totals:
    """The ledger's running totals in minor units; zero before the first donation."""

    raised: int = 0
    refunded: int = 0
    chargebacks: int = 0
    fees: int = 0
    disbursed: int = 0
    donation_count: int = 0

    @property
    def net_raised(self) -> int:
        """What counts toward the goal: donations less refunds and chargebacks."""
        return self.raised - self.refunded - self.chargebacks

    @property
    def balance(self) -> int:
        return self.net_raised - self.fees - self.disbursed


@dataclasses.dataclass
class Card:
    campaign: Campaign
    totals: Totals

    @property
    def percent(self) -> int:
        return min(100, math.floor(100 * max(self.totals.net_raised, 0) / self.campaign.goal))


@dataclasses.dataclass
class Page:
    items: list[Card]
    total: int
    filters: Filters

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.filters.per_page))

    @property
    def has_next(self) -> bool:
        return self.filters.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.filters.page > 1


def _positive_int(args, name: str, default: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    raw = str(raw)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 1 <= int(raw) <= high:
        raise FilterError(name, _l("Use a whole number from 1 to %(max)d.", max=high))
    return int(raw)


def parse_filters(args, per_page: int = 12, max_per_page: int = 50) -> Filters:
    """Filters from a query string; FilterError naming the first bad parameter."""
    q = (args.get("q") or "").strip()
    if len(q) > QUERY_MAX:
        raise FilterError("q", _l("Search for at most %(num)d characters.", num=QUERY_MAX))
    category = args.get("category") or None
    if category is not None and category not in categories.CODES:
        raise FilterError("category", _l("Unknown category."))
    region = args.get("region") or None
    if region is not None and region not in regions.CODES:
        raise FilterError("region", _l("Unknown province."))
    status = args.get("status") or None
    if status is not None and status not in PUBLIC_STATUS_CODES:
        raise FilterError("status", _l("Use published or closed."))
    sort = args.get("sort") or "newest"
    if sort not in SORTS:
        raise FilterError("sort", _l("Use newest, ending, funded or closest."))
    return Filters(q=q, category=category, region=region, status=status, sort=sort,
                   page=_positive_int(args, "page", 1, MAX_PAGE),
                   per_page=_positive_int(args, "per_page", per_page, max_per_page))


def totals_columns():
    t = CampaignTotal
    return (sa.func.coalesce(t.raised, 0), sa.func.coalesce(t.refunded, 0),
            sa.func.coalesce(t.chargebacks, 0), sa.func.coalesce(t.fees, 0),
            sa.func.coalesce(t.disbursed, 0), sa.func.coalesce(t.donation_count, 0))


# Words that say what kind of place follows: "Kabupaten Jayapura" is "Jayapura Regency" in English,
# and a city is stored as people write it. They are left out of a search with other words in it.
PLACE_KIND_WORDS = {"kabupaten", "kab", "kota", "regency", "city", "provinsi", "prov", "province"}


def _words_condition(q: str, *, only_stopwords_match: bool = False):
    """Every word in the campaign's text. With `only_stopwords_match`, a query of nothing but words
    the full-text search ignores ("dan") matches everything instead of nothing, as it does beside
    other words in one query."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        config = sa.literal_column(f"'{SEARCH_CONFIG}'::regconfig")
        query = sa.func.websearch_to_tsquery(config, q)
        found = search_document().op("@@")(query)
        return sa.or_(sa.func.numnode(query) == 0, found) if only_stopwords_match else found
    # Portable fallback: every word must appear somewhere (case-insensitive for ASCII letters).
    conditions = []
    for word in q.split()[:8]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(sa.or_(*(column.ilike(pattern, escape="\\") for column in (
            Campaign.title, Campaign.city, Campaign.beneficiary, Campaign.story))))
    return sa.and_(*conditions)


def _text_condition(q: str):
    """Every word of `q` in the campaign's text, or, for a word that names a province (in Indonesian
    or English: "Papua", "West Java"), the campaign in that province. Queries using websearch syntax
    (quotes, OR, -word) are left to the full-text search as they are."""
    words = q.split()
    if '"' in q or any(w.startswith("-") or w.lower() == "or" for w in words):
        return _words_condition(q)
    places = {w: regions.codes_for_word(w) for w in words}
    kinds = [w for w in words if w.lower().strip(".,") in PLACE_KIND_WORDS]
    if not any(places.values()) and (not kinds or len(kinds) == len(words)):
        return _words_condition(q)  # the common case, answered from the full-text index alone
    rest = [w for w in words if not places[w] and (w not in kinds or len(kinds) == len(words))]
    conditions = [_words_condition(" ".join(rest), only_stopwords_match=True)] if rest else []
    for word, codes in places.items():
        if codes:
            conditions.append(sa.or_(_words_condition(word), Campaign.region.in_(sorted(codes))))
    return sa.and_(*conditions)


def search(filters: Filters) -> Page:
    raised, refunded, chargebacks, fees, disbursed, count = totals_columns()
    net = raised - refunded - chargebacks
    statuses = [filters.status] if filters.status else list(PUBLIC_STATUS_CODES)
    where = [Campaign.status.in_(statuses)]
    if filters.category:
        where.append(Campaign.category == filters.category)
    if filters.region:
        where.append(Campaign.region == filters.region)
    if filters.q:
        where.append(_text_condition(filters.q))
    joined = sa.outerjoin(Campaign, CampaignTotal, CampaignTotal.campaign == Campaign.public_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(joined).where(*where))

    closed_last = sa.case((Campaign.status == Status.CLOSED.value, 1), else_=0)
    order = {
        "newest": [Campaign.published_at.desc(), Campaign.id.desc()],
        "ending": [closed_last, Campaign.deadline, Campaign.id],
        "funded": [net.desc(), Campaign.id.desc()],
        "closest": [closed_last, sa.case((net >= Campaign.goal, 1), else_=0),
                    (sa.cast(net, sa.Float) / Campaign.goal).desc(), Campaign.id.desc()],
    }[filters.sort]
    stmt = (sa.select(Campaign, raised, refunded, chargebacks, fees, disbursed, count)
            .select_from(joined).where(*where).order_by(*order)
            .limit(filters.per_page).offset((filters.page - 1) * filters.per_page))
    items = [Card(row[0], Totals(*row[1:])) for row in db.session.execute(stmt)]
    return Page(items=items, total=total or 0, filters=filters)


def totals_for(campaign: Campaign) -> Totals:
    row = db.session.execute(sa.select(*totals_columns()).select_from(Campaign).outerjoin(
        CampaignTotal, CampaignTotal.campaign == Campaign.public_id).where(Campaign.id == campaign.id)).one()
    return Totals(*row)
