"""What the ledger's pages keep per process, because recomputing it on every request costs more.

Both caches can only lag behind, never be wrong: a signed checkpoint note is fixed for good by its
(size, root), and a campaign's folded chart series is trusted only while the leaf hash of its last
folded entry is still what the database holds (entries never change, the ledger only grows).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from amanah.extensions import db
from ledger import checkpoints, storage
from ledger.models import LedgerEntry

if TYPE_CHECKING:  # annotations only: queries imports this module
    from ledger.queries import CampaignFinances

CHART_POINTS = 200


# ---- signed checkpoints ----

@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str

def checkpoint_note(size: int, root: bytes) -> SignedCheckpoint | None:
    """A stored checkpoint; its note is kept per process, as (size, root) fixes it for good."""
    notes = current_app.extensions.setdefault("ledger.checkpoint_notes", OrderedDict())
    found = notes.get((size, root))
    if found is None:
        cp = checkpoints.get(db.session, size)
        if cp is None or bytes(cp.root) != root:
            return None
        found = notes[(size, root)] = SignedCheckpoint(cp.size, bytes(cp.root), cp.note)
        while len(notes) > 64:
            notes.popitem(last=False)
    return found

# ---- the cumulative chart ----

@dataclass(frozen=True)
class ChartPoint:
    at: dt.datetime
    money_in: int   # cumulative donations
    money_out: int  # cumulative refunds, net chargebacks, fees and disbursements


@dataclass
class _Series:
    """A campaign's cumulative series folded up to `last_seq`, with one point every `step` entries.

    When there are more than CHART_POINTS points, every other one is dropped and `step` doubles, so
    the series stays small however long the campaign runs and new entries only extend it.
    """

    last_seq: int = -1
    last_hash: bytes = b""
    count: int = 0
    money_in: int = 0
    money_out: int = 0
    first_at: dt.datetime | None = None
    latest_at: dt.datetime | None = None
    step: int = 1
    points: list[ChartPoint] = field(default_factory=list)

    def fold(self, at: dt.datetime, kind: str, amount: int) -> None:
        if kind == "donation":
            self.money_in += amount
        else:
            self.money_out -= amount
        self.first_at = self.first_at or at
        self.latest_at = at if self.latest_at is None else max(self.latest_at, at)
        self.count += 1
        if self.count % self.step == 0:
            self.points.append(ChartPoint(self.latest_at, self.money_in, self.money_out))
            if len(self.points) > CHART_POINTS:
                self.points = self.points[1::2]
                self.step *= 2

    def series(self) -> list[ChartPoint]:
        if self.first_at is None:
            return []
        out = [ChartPoint(self.first_at, 0, 0), *self.points]
        if self.count % self.step:
            out.append(ChartPoint(self.latest_at, self.money_in, self.money_out))
        return out


class _SeriesCache:
    """Per-app cache of folded series. Entries never change, so a cached series can only lag behind;
    it is trusted only while the leaf hash of its last folded entry is still what the database holds."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self.series: OrderedDict[str, _Series] = OrderedDict()
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()

    def lock_for(self, campaign: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(campaign, threading.Lock())

    def get(self, campaign: str) -> _Series | None:
        with self.guard:
            found = self.series.get(campaign)
            if found is not None:
                self.series.move_to_end(campaign)
            return found

    def put(self, campaign: str, series: _Series) -> None:
        with self.guard:
            self.series[campaign] = series
            self.series.move_to_end(campaign)
            while len(self.series) > self.capacity:
                evicted, _ = self.series.popitem(last=False)
                self.locks.pop(evicted, None)


def _cache() -> _SeriesCache:
    return current_app.extensions.setdefault("ledger.chart_series", _SeriesCache())


def chart_series(finances: CampaignFinances) -> list[ChartPoint]:
    """Cumulative money in and out over time, at most about CHART_POINTS + 2 points.

    Reads only the campaign's entries after the last one already folded, through the
    (campaign, seq) index; the first call for a campaign in a process reads all of them once.
    """
    cache = _cache()
    with cache.lock_for(finances.campaign):
        series = cache.get(finances.campaign)
        if series is not None and series.last_seq >= 0:
            held = db.session.execute(sa.select(LedgerEntry.leaf_hash).where(
                LedgerEntry.seq == series.last_seq, LedgerEntry.campaign == finances.campaign)).scalar()
            if held is None or bytes(held) != series.last_hash:
                series = None  # another database, or a transaction that was rolled back
        if series is None or series.last_seq > finances.last_seq:
            series = _Series()
        if series.last_seq < finances.last_seq:
            series = _extend(series, finances.campaign, finances.last_seq)
            cache.put(finances.campaign, series)
        return series.series()


def _extend(series: _Series, campaign: str, upto: int, batch: int = 10_000) -> _Series:
    # Work on a copy: a failed read must not leave a half-folded series in the cache.
    series = dataclasses.replace(series, points=list(series.points))
    low = series.last_seq
    while low < upto:
        columns = (LedgerEntry.seq, LedgerEntry.at, LedgerEntry.kind, LedgerEntry.amount)
        rows = db.session.execute(sa.select(*columns)
                                  .where(LedgerEntry.campaign == campaign, LedgerEntry.seq > low,
                                         LedgerEntry.seq <= upto)
                                  .order_by(LedgerEntry.seq).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            series.fold(row.at, row.kind, row.amount)
        low = rows[-1].seq
    if low != series.last_seq:
        series.last_seq = low
        series.last_hash = storage.leaf_hash_at(db.session, low)
    return series
