"""The aggregates behind /data, kept in the same transaction as each ledger append.

Each entry (every kind but `report`, which moves no money) counts in the bucket of its month (in
WIB, Asia/Jakarta: an entry at 2026-01-31T18:00Z belongs to February), its campaign's category and
province as they stand when it is appended, and its currency; and in the same bucket with the
month, the category, the province, or any of them replaced by ALL. Money moves as the ledger's
running totals move it (ledger.entry.TOTAL_EFFECTS).

Donors are counted distinct per bucket with a first-gift mark per (donor, bucket)
(models.AggregateMark): the first donation of a donor in a bucket adds one, later ones nothing.
Who a donor is (donations.models.donor_identity): the account when the gift was made signed in,
else the e-mail address as typed, trimmed and case-folded; an anonymous gift counts like any other;
a donation entry with no donation row behind it (imported or synthetic) counts as a donor of its
own. Campaigns are counted the same way, with a mark per (campaign, bucket).

`apply` is the ledger's append listener (ledger.storage.register_append_listener): it runs under
the append lock: the campaigns' categories and provinces (one query), then the marks (insert, keep
the new ones) and the buckets (insert or add), in one statement on PostgreSQL for a usual flush.
`Tally` does the same counting in memory, for the rebuild (`flask opendata rebuild-aggregates`)
and the tests.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from amanah.i18n import WIB
from campaigns.models import Campaign
from donations.models import Donation, donor_identity
from ledger import storage
from ledger.entry import TOTAL_EFFECTS
from ledger.models import LedgerEntry
from opendata.models import ALL, Aggregate, AggregateMark

MONEY = ("raised", "refunded", "chargebacks", "fees", "disbursed")
COUNTS = ("gifts", "donors", "campaigns", "entries")
KEY = ("month", "category", "province", "currency")
_MARK_COLUMNS = ("what", "who", *KEY)
UNLISTED = ("", "")  # (category, province) of a campaign the campaigns table does not know
_DONOR_PREFIX = b"amanah-opendata-donor-v1\x00"
_CHUNK = 500  # rows per multi-row statement (SQLite allows 32766 bound parameters)

Key = tuple[str, str, str, str]


def month_of(at: dt.datetime) -> str:
    """YYYY-MM of an instant in WIB (a naive datetime is UTC, as SQLite gives it back)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(WIB).strftime("%Y-%m")


def donor_hash(identity: str) -> str:
    """What a mark keeps of a donor: SHA-256 of their identity, never the identity itself."""
    return hashlib.sha256(_DONOR_PREFIX + identity.encode()).hexdigest()


def entry_donor(seq: int) -> str:
    """The identity of a donation entry that no donation row names: a donor of its own."""
    return f"entry:{seq}"


def bucket_keys(month: str, category: str, province: str, currency: str) -> list[Key]:
    return [(m, c, p, currency) for m in (month, ALL) for c in (category, ALL) for p in (province, ALL)]


def _new_row(seq: int) -> dict:
    return {**dict.fromkeys(MONEY + COUNTS, 0), "first_seq": seq, "last_seq": seq}


@dataclass
class Tally:
    """Buckets and marks counted in memory from entries fed in seq order."""

    rows: dict[Key, dict] = field(default_factory=dict)
    marks: set[tuple] = field(default_factory=set)

    def add(self, *, seq: int, at: dt.datetime, kind: str, campaign: str, amount: int, currency: str,
            place: tuple[str, str], donor: str | None) -> None:
        if kind not in TOTAL_EFFECTS:
            return  # a report moves no money
        column, sign = TOTAL_EFFECTS[kind]
        for key in bucket_keys(month_of(at), *place, currency):
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = _new_row(seq)
            row[column] += sign * amount
            row["entries"] += 1
            row["first_seq"], row["last_seq"] = min(row["first_seq"], seq), max(row["last_seq"], seq)
            self.marks.add(("c", campaign, *key))
            if kind == "donation":
                row["gifts"] += 1
                self.marks.add(("d", donor_hash(donor or entry_donor(seq)), *key))

    def count_marks(self, marks: Iterable[tuple]) -> None:
        """Add one donor or campaign to each mark's bucket (marks new to the stored ones)."""
        for what, _who, *key in marks:
            self.rows[tuple(key)]["donors" if what == "d" else "campaigns"] += 1


# ---- the append listener ----

def register(app) -> None:
    storage.register_append_listener(app, apply)


@lru_cache(maxsize=4)
def _statements(dialect: str):
    """(insert the marks, keeping the new ones; insert the buckets or add to them), built once per
    dialect and run with a list of rows: SQLAlchemy compiles a multi-row VALUES anew each time
    (several ms under the append lock), but caches these and batches their rows itself."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    marks = AggregateMark.__table__
    new_marks = (insert(marks).on_conflict_do_nothing()
                 .returning(*(marks.c[c] for c in _MARK_COLUMNS)))
    table = Aggregate.__table__
    buckets = insert(table)
    buckets = buckets.on_conflict_do_update(
        index_elements=[table.c[c] for c in KEY],
        set_={**{c: table.c[c] + buckets.excluded[c] for c in MONEY + COUNTS},
              "last_seq": buckets.excluded.last_seq})  # appends come in seq order
    return new_marks, buckets


def _chunks(items: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_campaigns = Campaign.__table__
# A Core statement: through the ORM the same SELECT cost about twice the CPU, under the append lock.
_PLACES = (sa.select(_campaigns.c.public_id, _campaigns.c.category, _campaigns.c.region)
           .where(_campaigns.c.public_id.in_(sa.bindparam("ids", expanding=True))))


def places(session: Session, campaigns: Iterable[str]) -> dict[str, tuple[str, str]]:
    """{public id: (category, province)} of the campaigns the campaigns table knows.

    Campaigns loaded in this transaction already (a confirmation loads its donation's) are taken
    from the session, as loaded then (and as changed since, unflushed): one query less under the
    append lock. Others are read now."""
    wanted = sorted(set(campaigns))
    found = _loaded_places(session, set(wanted))
    for chunk in _chunks([public_id for public_id in wanted if public_id not in found]):
        found.update((public_id, (category, region)) for public_id, category, region in session.execute(
            _PLACES, {"ids": chunk}))
    return found


def _loaded_places(session: Session, wanted: set[str]) -> dict[str, tuple[str, str]]:
    found = {}  # (objects are expired when a transaction ends: those of earlier ones show nothing)
    for obj in session.identity_map.values():
        if isinstance(obj, Campaign):
            state = obj.__dict__  # only what is loaded: an expired attribute is not there
            if state.get("public_id") in wanted and "category" in state and "region" in state:
                found[state["public_id"]] = (state["category"], state["region"])
    return found


def apply(session: Session, rows: list[dict], donor_keys: dict[int, str]) -> None:
    """Count flushed ledger entries into the stored aggregates (the ledger's append listener)."""
    known = places(session, (row["campaign"] for row in rows))
    tally = Tally()
    for row in rows:
        tally.add(seq=row["seq"], at=row["at"], kind=row["kind"], campaign=row["campaign"],
                  amount=row["amount"], currency=row["currency"],
                  place=known.get(row["campaign"], UNLISTED), donor=donor_keys.get(row["seq"]))
    if not tally.rows:
        return
    dialect = session.get_bind().dialect.name
    marks = sorted(tally.marks)
    if dialect == "postgresql" and len(marks) <= ONE_STATEMENT_ROWS >= len(tally.rows):
        # The usual flush (a gift and its fee: 16 marks, 8 buckets) as one statement, one round
        # trip less under the append lock.
        params = {f"m_{c}": [mark[i] for mark in marks] for i, c in enumerate(_MARK_COLUMNS)}
        buckets = sorted(tally.rows.items())
        params.update({f"b_{c}": [key[i] for key, _ in buckets] for i, c in enumerate(KEY)})
        params.update({f"b_{c}": [row[c] for _, row in buckets] for c in _BUCKET_VALUES if c not in KEY})
        session.connection().exec_driver_sql(_MARKS_AND_BUCKETS_SQL, params)
        return
    new_marks, buckets = _statements(dialect)
    tally.count_marks(tuple(r) for r in session.execute(
        new_marks, [dict(zip(_MARK_COLUMNS, m, strict=True)) for m in marks]))
    # Insert the buckets, or add to those that exist (their first_seq stays, last_seq moves on).
    session.execute(buckets, [{**dict(zip(KEY, key, strict=True)), **row}
                              for key, row in sorted(tally.rows.items())])


ONE_STATEMENT_ROWS = 64
_BUCKET_VALUES = (*KEY, *MONEY, "gifts", "entries", "first_seq", "last_seq")


def _marks_and_buckets_sql() -> str:
    """PostgreSQL, driver-level: insert the marks (a data-modifying CTE), count the new ones per
    bucket, and insert or add to the buckets with those counts, in one statement; each row set
    passed as one array per column (unnest), parameters named m_<column> and b_<column>. One text
    for any number of rows, with few parameters: the driver keeps it parsed and PostgreSQL
    prepares it (a VALUES list of a usual flush had some 200 parameters, which the driver parsed
    anew every time, under the append lock)."""
    marks = ", ".join(f"%(m_{c})s::text[]" for c in _MARK_COLUMNS)
    buckets = ", ".join(f"%(b_{c})s::{'text' if c in KEY else 'bigint'}[]" for c in _BUCKET_VALUES)
    key = ", ".join(KEY)
    added = ", ".join(f"{c} = a.{c} + excluded.{c}" for c in (*MONEY, *COUNTS))
    # Only constant column names and named placeholders go into the text.
    return (
        f"WITH new_marks AS (INSERT INTO opendata_marks ({', '.join(_MARK_COLUMNS)}) "  # noqa: S608
        f"SELECT * FROM unnest({marks}) "
        f"ON CONFLICT DO NOTHING RETURNING what, {key}), "
        f"counted AS (SELECT {key}, count(*) FILTER (WHERE what = 'd') AS donors, "
        f"count(*) FILTER (WHERE what = 'c') AS campaigns FROM new_marks GROUP BY {key}) "
        f"INSERT INTO opendata_aggregates AS a ({key}, {', '.join(MONEY)}, gifts, donors, campaigns, "
        f"entries, first_seq, last_seq) "
        f"SELECT {', '.join(f'd.{c}' for c in KEY)}, {', '.join(f'd.{c}' for c in MONEY)}, d.gifts, "
        f"coalesce(c.donors, 0), coalesce(c.campaigns, 0), d.entries, d.first_seq, d.last_seq "
        f"FROM unnest({buckets}) AS d({', '.join(_BUCKET_VALUES)}) LEFT JOIN counted c USING ({key}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {added}, last_seq = excluded.last_seq")


_MARKS_AND_BUCKETS_SQL = _marks_and_buckets_sql()


# ---- recounting from the ledger ----

def recount(session: Session, end: int | None = None) -> Tally:
    """Every bucket and mark counted again from the entries [0, end), with the campaigns' current
    categories and provinces and the donations' donors."""
    donors = {seq: donor_identity(user_id, email) for seq, user_id, email in session.execute(
        sa.select(Donation.ledger_seq, Donation.user_id, Donation.donor_email)
        .where(Donation.ledger_seq.is_not(None)))}
    known = {public_id: (category, region) for public_id, category, region in session.execute(
        sa.select(Campaign.public_id, Campaign.category, Campaign.region))}
    tally = Tally()
    query = (sa.select(LedgerEntry.seq, LedgerEntry.at, LedgerEntry.kind, LedgerEntry.campaign,
                       LedgerEntry.amount, LedgerEntry.currency).order_by(LedgerEntry.seq))
    if end is not None:
        query = query.where(LedgerEntry.seq < end)
    for entry in session.execute(query.execution_options(yield_per=5000)):
        tally.add(seq=entry.seq, at=entry.at, kind=entry.kind, campaign=entry.campaign, amount=entry.amount,
                  currency=entry.currency, place=known.get(entry.campaign, UNLISTED),
                  donor=donors.get(entry.seq))
    tally.count_marks(tally.marks)
    return tally


def stored_rows(session: Session) -> dict[Key, dict]:
    table = Aggregate.__table__
    return {tuple(row[c] for c in KEY): {c: row[c] for c in (*MONEY, *COUNTS, "first_seq", "last_seq")}
            for row in session.execute(sa.select(table)).mappings()}


def differences(stored: dict[Key, dict], counted: dict[Key, dict]) -> list[str]:
    """One line per bucket whose stored figures differ from the recount, sorted by bucket."""
    found = []
    for key in sorted(stored.keys() | counted.keys()):
        name = "/".join(part or "-" for part in key)
        have, want = stored.get(key), counted.get(key)
        if have is None:
            found.append(f"{name}: no stored row for {want['entries']} entries")
        elif want is None:
            found.append(f"{name}: a stored row but no entry counts there")
        else:
            differ = [f"{c} is {have[c]} but the entries give {want[c]}" for c in want if have[c] != want[c]]
            if differ:
                found.append(f"{name}: {'; '.join(differ)}")
    return found


def rewrite(session: Session, tally: Tally) -> None:
    """Replace the stored aggregates and marks by a recount (in the caller's transaction, which
    should hold the ledger's append lock so that no append slips between the two)."""
    session.execute(sa.delete(AggregateMark))
    session.execute(sa.delete(Aggregate))
    for chunk in _chunks(sorted(tally.marks), 2000):
        session.execute(sa.insert(AggregateMark), [dict(zip(_MARK_COLUMNS, m, strict=True)) for m in chunk])
    values = [{**dict(zip(KEY, key, strict=True)), **row} for key, row in sorted(tally.rows.items())]
    for chunk in _chunks(values, 2000):
        session.execute(sa.insert(Aggregate), chunk)
