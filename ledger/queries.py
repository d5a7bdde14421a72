"""What the public reads of the ledger: entry lists, single entries with proofs, campaign finances.

Plain functions over `db.session` that return dataclasses; the HTML pages (ledger.pages), the JSON
API (ledger.api) and the campaign page (campaigns, through templates/ledger/_campaign_finances.html)
all render the same objects. Nothing here sums the whole ledger per request: figures come from the
running totals kept with each append (CampaignTotal), lists are keyset-paginated on indexed columns,
and a campaign's chart is folded from its entries once and then extended with new ones only.

For a campaign page:

    from ledger import formatting, queries
    finances = queries.campaign_finances(campaign.public_id)   # None before the first entry
    chart = finances and formatting.campaign_chart(finances)
    {% from "ledger/_campaign_finances.html" import campaign_finances %}
    {{ campaign_finances(finances, chart) }}
"""
import base64
import datetime as dt
import json
import re
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from amanah.errors import FilterError
from amanah.extensions import db
from ledger import checkpoints, names, storage, tree
from ledger.caches import SignedCheckpoint, checkpoint_note
from ledger.formatting import KIND_LABELS, kind_label
from ledger.models import CampaignTotal, LedgerCheckpoint, LedgerCosignature, LedgerEntry, LedgerHash
from ledger.names import CampaignName, register_campaign_names  # noqa: F401 - for campaigns

FEE_CEILING = Fraction(1, 10)
_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
MAX_SEQ = 2**63 - 1


# ---- filters and entry lists ----

@dataclass(frozen=True)
class EntryFilters:
    kind: str | None = None
    campaign: str | None = None
    since: dt.date | None = None  # first day included (UTC)
    until: dt.date | None = None  # last day included (UTC)
    ref: int | None = None  # only the entries that refer to this one (refunds, fees, a correction)

    def as_args(self) -> dict[str, str]:
        """The filters as query parameters, for links that keep them."""
        args = {"kind": self.kind, "campaign": self.campaign,
                "from": self.since and self.since.isoformat(), "to": self.until and self.until.isoformat(),
                "ref": None if self.ref is None else str(self.ref)}
        return {k: v for k, v in args.items() if v}

    def conditions(self) -> list:
        where = []
        if self.ref is not None:
            where.append(LedgerEntry.ref == self.ref)
        if self.kind:
            where.append(LedgerEntry.kind == self.kind)
        if self.campaign:
            where.append(LedgerEntry.campaign == self.campaign)
        if self.since:
            where.append(LedgerEntry.at >= _midnight(self.since))
        if self.until and self.until < dt.date.max:
            where.append(LedgerEntry.at < _midnight(self.until + dt.timedelta(days=1)))
        return where


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _date_arg(args: Mapping, name: str) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise FilterError(name, _l("Enter the date as YYYY-MM-DD, e.g. 2026-01-31.")) from None


def parse_filters(args: Mapping) -> EntryFilters:
    """Filters from query parameters kind, campaign, from, to, ref; raises FilterError naming the bad one."""
    kind = (args.get("kind") or "").strip() or None
    if kind is not None and kind not in KIND_LABELS:
        raise FilterError("kind", _l("Choose one of the kinds in the list."))
    campaign = (args.get("campaign") or "").strip() or None
    if campaign is not None and not _CAMPAIGN_ID.match(campaign):
        raise FilterError("campaign", _l("A campaign id has only letters, digits, '.', '_', ':' and '-'."))
    since, until = _date_arg(args, "from"), _date_arg(args, "to")
    if since and until and until < since:
        raise FilterError("to", _l("The end date must not be before the start date."))
    return EntryFilters(kind=kind, campaign=campaign, since=since, until=until,
                        ref=parse_seq_arg(args, "ref"))


def parse_seq_arg(args: Mapping, name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_SEQ:
        raise FilterError(name, _l("The parameter %(name)s must be a non-negative integer.", name=name))
    return int(raw)


@dataclass(frozen=True)
class EntryRow:
    """One entry as lists show it: the indexed columns, the leaf and its parsed members."""

    seq: int
    at: dt.datetime
    kind: str
    campaign: str
    amount: int
    currency: str
    ref: int | None
    payment: str | None
    leaf: bytes
    leaf_hash: bytes
    fields: dict

    @property
    def memo(self) -> str | None:
        return self.fields.get("memo")

    @property
    def evidence(self) -> str | None:
        return self.fields.get("evidence")

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)


_ROW_COLUMNS = (LedgerEntry.seq, LedgerEntry.at, LedgerEntry.kind, LedgerEntry.campaign, LedgerEntry.amount,
                LedgerEntry.currency, LedgerEntry.ref, LedgerEntry.payment, LedgerEntry.leaf,
                LedgerEntry.leaf_hash)


def _entry_row(row) -> EntryRow:
    leaf = bytes(row.leaf)
    return EntryRow(seq=row.seq, at=row.at, kind=row.kind, campaign=row.campaign, amount=row.amount,
                    currency=row.currency, ref=row.ref, payment=row.payment, leaf=leaf,
                    leaf_hash=bytes(row.leaf_hash), fields=json.loads(leaf))


@dataclass(frozen=True)
class EntryPage:
    rows: list[EntryRow]
    newer: int | None  # pass as ?after= for the page of newer entries
    older: int | None  # pass as ?before= for the page of older entries


def list_entries(filters: EntryFilters, *, before: int | None = None, after: int | None = None,
                 limit: int = 50) -> EntryPage:
    """Entries newest first, `limit` at a time, by keyset on seq (never OFFSET).

    `before` gives the page of entries older than that seq, `after` the page of the entries just
    newer than it. Each query walks one index ((kind, seq), (campaign, seq) or the primary key)
    backwards or forwards from the cursor and stops after limit + 1 rows.
    """
    where = filters.conditions()
    query = sa.select(*_ROW_COLUMNS).where(*where)
    if after is not None:
        rows = db.session.execute(query.where(LedgerEntry.seq > after)
                                  .order_by(LedgerEntry.seq).limit(limit + 1)).all()
        more_newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        more_older = bool(rows) and _exists(where, LedgerEntry.seq < rows[-1].seq)
    else:
        if before is not None:
            query = query.where(LedgerEntry.seq < before)
        rows = db.session.execute(query.order_by(LedgerEntry.seq.desc()).limit(limit + 1)).all()
        more_older = len(rows) > limit
        rows = rows[:limit]
        more_newer = before is not None and _exists(where, LedgerEntry.seq >= before)
    entries = [_entry_row(r) for r in rows]
    return EntryPage(rows=entries,
                     newer=entries[0].seq if entries and more_newer else None,
                     older=entries[-1].seq if entries and more_older else None)


def _exists(where: list, condition) -> bool:
    found = db.session.execute(sa.select(LedgerEntry.seq).where(*where, condition).limit(1)).first()
    return found is not None


def iter_entry_rows(filters: EntryFilters, start: int, end: int, batch: int = 2000):
    """Entries with start <= seq < end matching `filters`, oldest first, in keyset batches."""
    where = filters.conditions()
    low = start
    while low < end:
        rows = db.session.execute(sa.select(*_ROW_COLUMNS)
                                  .where(*where, LedgerEntry.seq >= low, LedgerEntry.seq < end)
                                  .order_by(LedgerEntry.seq).limit(batch)).all()
        if not rows:
            return
        yield from (_entry_row(r) for r in rows)
        low = rows[-1].seq + 1


@dataclass(frozen=True)
class LedgerHead:
    size: int
    last_at: dt.datetime | None


@contextmanager
def reader():
    """Something to run SELECTs on. When the session has no transaction open (the usual case in
    a page) and the database is PostgreSQL, a connection in autocommit mode: each read is one round
    trip instead of BEGIN, SELECT and ROLLBACK, which is much of what a cached page costs. Within a
    request that connection is checked out once and kept until the request ends, since a checkout
    may cost a ping (amanah.db.ping_when_idle). Inside a transaction, the session itself, so a
    request always sees its own appends."""
    session = db.session()
    bind = session.get_bind()
    postgresql = isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql"
    if not postgresql or session.in_transaction():
        yield session
        return
    if not has_request_context():
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection
        return
    connection = g.get("ledger_reader")
    if connection is None or connection.closed or connection.engine is not bind:
        connection = g.ledger_reader = bind.connect().execution_options(isolation_level="AUTOCOMMIT")
    yield connection


def close_reader(_exc=None) -> None:
    """Return the request's autocommit connection to the pool (registered as a teardown)."""
    connection = g.pop("ledger_reader", None)
    if connection is not None:
        connection.close()


def read_row(statement, params: dict | None = None):
    with reader() as source:
        return source.execute(statement, params).first()


_HEAD = sa.select(LedgerEntry.seq, LedgerEntry.at).order_by(LedgerEntry.seq.desc()).limit(1)


def names_version() -> str:
    """What the pages' caches include so that a renamed campaign shows (ledger.names)."""
    with reader() as r:
        return names.names_version(r.execute)


def campaign_names(ids) -> dict[str, CampaignName]:
    """{public id: CampaignName} of the campaigns named (the ledger's tables show names, not ids)."""
    with reader() as r:
        return names.campaign_names(ids, r.execute)


def campaign_name(public_id: str | None) -> CampaignName | None:
    return campaign_names([public_id]).get(public_id) if public_id else None


def head() -> LedgerHead:
    """The ledger's size and the time of its last entry: one read of the primary key's last row."""
    row = read_row(_HEAD)
    return LedgerHead(0, None) if row is None else LedgerHead(row.seq + 1, row.at)


def campaign_last_seq(public_id: str) -> int | None:
    """The last entry that counts for a campaign (its running totals' position), None before any."""
    row = read_row(sa.select(CampaignTotal.last_seq).where(CampaignTotal.campaign == public_id))
    return None if row is None else row.last_seq


# ---- one entry ----

@dataclass(frozen=True)
class EntryDetail:
    seq: int
    leaf: bytes
    leaf_hash: bytes
    prev: bytes
    fields: dict  # the leaf's members, in the leaf's (canonical) order
    has_next: bool
    latest_checkpoint: tuple[int, bytes] | None = None  # (size, root) of the newest stored checkpoint
    # Stored hashes read along with the entry for its proof in a tree of this size: (size, {index: hash})
    proof_hashes: tuple[int, dict[int, bytes]] | None = None
    # The witnesses' signature lines on the newest checkpoint, when read along with the entry
    latest_cosignatures: tuple[str, ...] | None = None

    @property
    def leaf_text(self) -> str:
        return self.leaf.decode("utf-8")

    @property
    def kind_label(self) -> str:
        return kind_label(self.fields["kind"])


def _entry_query():
    successor = sa.select(LedgerEntry.seq).where(LedgerEntry.seq == sa.bindparam("next_seq")).exists()
    newest = sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1).subquery()
    return (sa.select(LedgerEntry.leaf, LedgerEntry.leaf_hash, LedgerEntry.prev, successor.label("has_next"),
                      newest.c.size.label("cp_size"), newest.c.root.label("cp_root"))
            .outerjoin(newest, sa.true()).where(LedgerEntry.seq == sa.bindparam("seq")))


def _entry_with_proof_hashes_query():
    wanted = LedgerHash.idx == sa.any_(sa.bindparam("indexes", type_=ARRAY(sa.BigInteger)))
    hashes = sa.select(sa.func.array_agg(aggregate_order_by(LedgerHash.hash, LedgerHash.idx))).where(wanted)
    query = _entry_query()
    newest_size = query.selected_columns.cp_size
    # A receipt's attached proof carries the newest checkpoint's cosignatures: read them in the
    # same round trip (witnesses.cosigned_text's order, by witness name).
    by_witness = aggregate_order_by(LedgerCosignature.line, LedgerCosignature.witness)
    lines = sa.select(sa.func.array_agg(by_witness)).where(LedgerCosignature.size == newest_size)
    return query.add_columns(hashes.scalar_subquery().label("proof_hashes"),
                             lines.scalar_subquery().label("cp_cosignatures"))


# Built once: constructing a statement costs more than running it through the compiled cache.
_ENTRY = _entry_query()
_ENTRY_WITH_PROOF_HASHES = _entry_with_proof_hashes_query()

# The newest checkpoint's size as this process last read it. The entry page proves its entry
# against the newest checkpoint, which changes rarely, so it reads the proof's stored hashes for
# this size in the same round trip as the entry; when the checkpoint has moved on since, the
# proof reads its hashes itself, as it would anyway.
_proof_size_guess = {"size": 0}


def get_entry(seq: int, with_proof_hashes: bool = False) -> EntryDetail | None:
    """The entry, whether it has a successor, and the newest checkpoint: one query.

    `with_proof_hashes` (PostgreSQL): also read the stored hashes of its inclusion proof against
    the newest checkpoint, as far as that is known, in the same query."""
    if not 0 <= seq < MAX_SEQ:
        return None
    guess = _proof_size_guess["size"]
    with reader() as source:
        prefetch = with_proof_hashes and guess > seq and storage.dialect_name(source) == "postgresql"
        if prefetch:
            indexes = sorted(set(tree.record_proof_indexes(guess, seq)))
            row = source.execute(_ENTRY_WITH_PROOF_HASHES,
                                 {"seq": seq, "next_seq": seq + 1, "indexes": indexes}).first()
        else:
            row = source.execute(_ENTRY, {"seq": seq, "next_seq": seq + 1}).first()
    if row is None:
        return None
    leaf = bytes(row.leaf)
    latest = None if row.cp_size is None else (row.cp_size, bytes(row.cp_root))
    proof_hashes = None
    if prefetch and row.proof_hashes is not None and len(row.proof_hashes) == len(indexes):
        proof_hashes = (guess, dict(zip(indexes, map(bytes, row.proof_hashes), strict=True)))
    if with_proof_hashes and latest is not None:
        _proof_size_guess["size"] = latest[0]
    cosignatures = tuple(row.cp_cosignatures or ()) if prefetch and latest is not None else None
    return EntryDetail(seq=seq, leaf=leaf, leaf_hash=bytes(row.leaf_hash), prev=bytes(row.prev),
                       fields=json.loads(leaf), has_next=bool(row.has_next), latest_checkpoint=latest,
                       proof_hashes=proof_hashes, latest_cosignatures=cosignatures)


@dataclass(frozen=True)
class InclusionBundle:
    """An entry's inclusion proof against a signed checkpoint: everything needed to check it offline."""

    index: int
    size: int
    leaf: bytes
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes
    checkpoint: str  # the signed note

    def tlog_proof(self) -> str:
        """The same proof in C2SP tlog-proof@v1 text form (hashes in base64, then the checkpoint)."""
        lines = ["c2sp.org/tlog-proof@v1", f"index {self.index}"]
        lines += [base64.b64encode(h).decode() for h in self.proof]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    def to_json(self) -> dict:
        return {
            "format": "amanah-inclusion-proof@v1",
            "index": self.index,
            "size": self.size,
            "leaf": self.leaf.decode("utf-8"),
            "leaf_hash": self.leaf_hash.hex(),
            "proof": tree.proof_to_hex(self.proof),
            "root": self.root.hex(),
            "checkpoint": self.checkpoint,
            "tlog_proof": self.tlog_proof(),
        }


def proof_checkpoint(entry: EntryDetail, size: int | None = None) -> tuple[SignedCheckpoint | None, bool]:
    """(checkpoint to prove the entry against, whether it was signed just now).

    The stored checkpoint of `size` if given (None if there is none that covers the entry), or
    else the latest. When no stored checkpoint covers the entry yet, one is signed for the current
    size, as GET /ledger/checkpoint would; the caller then commits.
    """
    if size is not None:
        cp = checkpoints.get(db.session, size)
        if cp is None or cp.size <= entry.seq:
            return None, False
        return SignedCheckpoint(cp.size, bytes(cp.root), cp.note), False
    if entry.latest_checkpoint is not None and entry.latest_checkpoint[0] > entry.seq:
        cp = checkpoint_note(*entry.latest_checkpoint)
        if cp is not None:
            return cp, False
    cp = checkpoints.checkpoint_for_current_size(db.session)
    return SignedCheckpoint(cp.size, bytes(cp.root), cp.note), True


def inclusion_bundle(entry: EntryDetail, cp: SignedCheckpoint) -> InclusionBundle:
    known = entry.proof_hashes[1] if entry.proof_hashes and entry.proof_hashes[0] == cp.size else None
    with reader() as source:  # storage only calls .execute() on it
        proof = storage.inclusion_proof(source, entry.seq, cp.size, known)
    return InclusionBundle(index=entry.seq, size=cp.size, leaf=entry.leaf, leaf_hash=entry.leaf_hash,
                           proof=proof, root=cp.root, checkpoint=cp.note)


def checkpoint_page(before: int | None = None, limit: int = 20) -> tuple[list[LedgerCheckpoint], int | None]:
    """Stored checkpoints, newest first, keyset by size; returns (rows, cursor for the next page)."""
    query = sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(LedgerCheckpoint.size < before)
    rows = list(db.session.execute(query).scalars())
    return rows[:limit], (rows[limit - 1].size if len(rows) > limit else None)

# ---- campaign finances ----

@dataclass(frozen=True)
class CampaignFinances:
    """A campaign's money, in minor units of its currency, as positive magnitudes."""

    campaign: str
    currency: str
    raised: int       # donations
    refunded: int     # refunds to donors
    chargebacks: int  # chargebacks, net of those reversed
    fees: int         # payment processing fees
    disbursed: int    # paid out to the beneficiary
    donation_count: int
    entry_count: int
    last_seq: int
    updated_at: dt.datetime

    @property
    def net_raised(self) -> int:
        """What donors gave and kept given: the base the fee ratio is measured against."""
        return self.raised - self.refunded - self.chargebacks

    @property
    def money_out(self) -> int:
        return self.refunded + self.chargebacks + self.fees + self.disbursed

    @property
    def balance(self) -> int:
        """Available to disburse; equals the sum of all the campaign's entry amounts."""
        return self.raised - self.money_out

    @property
    def fee_ratio(self) -> Fraction | None:
        return Fraction(self.fees, self.net_raised) if self.net_raised > 0 else None

    @property
    def fee_ratio_percent(self) -> float | None:
        ratio = self.fee_ratio
        return None if ratio is None else round(float(ratio * 100), 2)

    @property
    def fee_ratio_exceeded(self) -> bool:
        """Costs above the 10% ceiling (or fees with nothing kept to measure them against)."""
        ratio = self.fee_ratio
        return self.fees > 0 if ratio is None else ratio > FEE_CEILING


_TOTALS = sa.select(CampaignTotal.__table__).where(CampaignTotal.campaign == sa.bindparam("campaign"))


def campaign_finances(campaign_public_id: str) -> CampaignFinances | None:
    """The campaign's figures from its running totals (one primary-key read); None if it has no entries."""
    if not _CAMPAIGN_ID.match(campaign_public_id or ""):
        return None
    totals = read_row(_TOTALS, {"campaign": campaign_public_id})
    if totals is None:
        return None
    return CampaignFinances(
        campaign=totals.campaign, currency=totals.currency, raised=totals.raised, refunded=totals.refunded,
        chargebacks=totals.chargebacks, fees=totals.fees, disbursed=totals.disbursed,
        donation_count=totals.donation_count, entry_count=totals.entry_count, last_seq=totals.last_seq,
        updated_at=totals.updated_at)
