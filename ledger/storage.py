"""The ledger in the database: appends under one lock, stored tree hashes, O(log n) reads.

Business code calls `append()` inside its own transaction; the entry, its stored tree hashes
and the campaign's running totals are written in that transaction, so none exists without the
others and without the business change that caused them.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from amanah.db import now_utc
from ledger import entry as entries
from ledger import tiles, tree
from ledger.models import CampaignTotal, LedgerCheckpoint, LedgerEntry, LedgerHash

# Any constant works: it names "the ledger's append lock" among PostgreSQL advisory locks.
APPEND_LOCK_KEY = 0x616D616E6168  # b"amanah"

# How each kind moves a campaign's totals (ledger.entry, so that the standalone monitor sums alike).
TOTAL_EFFECTS = entries.TOTAL_EFFECTS


# Up to this many entries per flush are written in one statement on PostgreSQL (see flush());
# bulk loads keep executemany, whose statement does not grow with the batch.
ONE_STATEMENT_ROWS = 16


class LedgerError(RuntimeError):
    pass


# Packages above the ledger that keep figures derived from each append in the same transaction
# (opendata's aggregates by category, province and month) hand a listener over at init_app time,
# as campaigns hands over its names (ledger.names): the ledger imports none of them.
_LISTENERS = "ledger.append_listeners"


def register_append_listener(app, listener) -> None:
    """`listener(session, rows, donor_keys)` runs in every flush, in the appending transaction and
    under the append lock, after the entries are written: `rows` are the flushed entries' column
    values (seq, at, kind, campaign, amount, currency, ref, payment), `donor_keys` maps a donation's
    seq to the donor identity its caller passed (never written to the ledger). If it raises, the
    transaction fails with the append."""
    listeners = app.extensions.setdefault(_LISTENERS, [])
    if listener not in listeners:
        listeners.append(listener)


def _append_listeners() -> list:
    return current_app.extensions.get(_LISTENERS, []) if has_app_context() else []


@dataclass(frozen=True)
class Appended:
    seq: int
    leaf: bytes
    leaf_hash: bytes
    entry: dict


def lock(session: Session) -> None:
    """Serialize appends across every process until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every transaction already began with
    BEGIN IMMEDIATE (amanah.db), which holds the database's single write lock. The unique
    constraints on seq and prev stay as the backstop.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})


# A Core statement built once: through the ORM the same SELECT cost about twice the CPU, under the lock.
_HEAD = (sa.select(LedgerEntry.__table__.c.seq, LedgerEntry.__table__.c.leaf_hash)
         .order_by(LedgerEntry.__table__.c.seq.desc()).limit(1))


def head(session: Session) -> tuple[int, bytes | None]:
    """(size, leaf hash of the last entry or None when empty)."""
    row = session.execute(_HEAD).first()
    return (0, None) if row is None else (row.seq + 1, bytes(row.leaf_hash))


def size(session: Session) -> int:
    return head(session)[0]


# PostgreSQL: one statement whatever the number of indexes, `idx = ANY(:array)`. An expanding IN
# list is re-rendered for each length and cost twice as much per proof (bench/ledger_pages.py).
_HASHES_ANY = sa.select(LedgerHash.idx, LedgerHash.hash).where(
    LedgerHash.idx == sa.any_(sa.bindparam("indexes", type_=ARRAY(sa.BigInteger))))


def dialect_name(source) -> str:
    if isinstance(source, sa.Connection):
        return source.dialect.name
    return source.get_bind().dialect.name  # a Session, or Flask-SQLAlchemy's scoped session


def hash_reader(session: Session, cache: dict[int, bytes] | None = None):
    """A tlog read_hashes callable backed by one query per call (plus an optional cache).

    `session` may also be a Connection: the public pages read through an autocommit one."""
    postgresql = dialect_name(session) == "postgresql"

    def read_hashes(indexes: list[int]) -> list[bytes]:
        found = {i: cache[i] for i in indexes if cache is not None and i in cache}
        missing = [i for i in indexes if i not in found]
        if missing:
            if postgresql:
                rows = session.execute(_HASHES_ANY, {"indexes": missing})
            else:
                rows = session.execute(
                    sa.select(LedgerHash.idx, LedgerHash.hash).where(LedgerHash.idx.in_(missing)))
            found.update((idx, bytes(h)) for idx, h in rows)
        if len(found) != len(set(indexes)):
            raise LedgerError(f"stored hashes missing: {sorted(set(indexes) - set(found))[:5]}")
        return [found[i] for i in indexes]
    return read_hashes


def _edge_indexes(n: int) -> set[int]:
    """Stored-hash indexes of the tree of n records' right edge (its compact range): the only
    hashes that appending record n and later ones reads."""
    return {tree.stored_hash_index(level, (n >> level) - 1)
            for level in range(n.bit_length()) if n >> level & 1}


# The right edge after this process's last append, keyed by (size, last leaf hash). Through the
# hash chain that key fixes every entry, hence every tree hash, whatever the database, so a
# match can be trusted; a mismatch (another process appended since) just means reading them.
# It spares one query under the append lock whenever this process appended last.
_edge: tuple[int, bytes, dict[int, bytes]] = (0, b"", {})


def _known_edge(size: int, last: bytes) -> dict[int, bytes]:
    known_size, known_last, hashes = _edge
    return hashes if (known_size, known_last) == (size, last) else {}


def _remember_edge(size: int, last: bytes, cache: dict[int, bytes]) -> None:
    global _edge  # noqa: PLW0603 - one process-wide value, replaced whole (no lock needed)
    keep = _edge_indexes(size)
    if keep <= cache.keys():
        _edge = (size, last, {i: cache[i] for i in keep})


_TOTAL_COLUMNS = ("raised", "refunded", "chargebacks", "fees", "disbursed", "donation_count", "entry_count")
_ENTRY_COLUMNS = ("seq", "leaf", "leaf_hash", "prev", "at", "kind", "campaign", "amount", "currency", "ref",
                  "payment")


def _totals_update():
    table = CampaignTotal.__table__
    return (sa.update(table)
            .where(table.c.campaign == sa.bindparam("t_campaign"),
                   table.c.currency == sa.bindparam("t_currency"))
            .values(last_seq=sa.bindparam("t_last_seq"),
                    updated_at=sa.bindparam("t_updated_at", type_=table.c.updated_at.type),
                    **{c: table.c[c] + sa.bindparam(f"t_{c}", type_=table.c[c].type)
                       for c in _TOTAL_COLUMNS}))


# Statements are built once, with bound parameters: building one per append (values written into
# it) cost more CPU under the lock than the round trip it saves.
_TOTALS_UPDATE = _totals_update()


@lru_cache(maxsize=4)
def _entries_hashes_and_totals(dialect) -> str:
    """SQL (PostgreSQL, driver-level) of the UPDATE of a campaign's totals carrying the INSERTs of
    the entries and their tree hashes as data-modifying CTEs, each row set passed as one array per
    column (unnest); parameters named e_<column> and h_<column> (lists) and t_<column>. One text
    for any number of rows: compiled once, and few enough parameters that the driver keeps it
    parsed and PostgreSQL prepares it (a VALUES list per shape was parsed anew by the driver on
    every batch, under the lock, and compiling one with SQLAlchemy took about 2 ms). Every value
    it takes is already what the driver stores (aware UTC datetimes, bytes, ints, strings)."""
    e, h = LedgerEntry.__table__, LedgerHash.__table__

    def rows(table, columns, prefix):
        # Cast to the type without its length: an explicit cast to varchar(n) would cut a longer
        # value, where the INSERT's own (assignment) cast refuses it, as a VALUES list did.
        types = {c: re.sub(r"[(].*[)]", "", table.c[c].type.compile(dialect=dialect)) for c in columns}
        arrays = ", ".join(f"%({prefix}_{c})s::{types[c]}[]" for c in columns)
        # Only the tables' own names and types go into the text.
        return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"  # noqa: S608
    update = str(_TOTALS_UPDATE.compile(dialect=dialect))
    return (f"WITH new_entries AS ({rows(e, _ENTRY_COLUMNS, 'e')}), "
            f"new_hashes AS ({rows(h, ('idx', 'hash'), 'h')}) {update}")


class Appender:
    """Appends entries in the caller's transaction. Use one per transaction; call flush().

    Rows are buffered and written in executemany batches, so bulk loads (bench/ledger_fill.py)
    pay one round trip per batch, not per entry; the hashes they need stay in a small cache.
    """

    def __init__(self, session: Session, *, locked: bool = False):
        """`locked`: the caller holds the append lock in this transaction already."""
        self.session = session
        if not locked:
            lock(session)
        self.size, last = head(session)
        self.prev = last or bytes(32)
        self._cache: dict[int, bytes] = dict(_known_edge(self.size, self.prev))
        self._postgresql = dialect_name(session) == "postgresql"
        self._read = hash_reader(session, self._cache)
        self._entry_rows: list[dict] = []
        self._hash_rows: list[dict] = []
        self._totals: dict[str, dict] = defaultdict(lambda: defaultdict(int))
        self._donor_keys: dict[int, str] = {}

    def append(self, *, kind: str, campaign: str, amount: int, currency: str,
               at: dt.datetime | None = None, ref: int | None = None, memo: str | None = None,
               evidence: str | None = None, donor: str | None = None,
               payment: str | None = None, files: list[str] | None = None,
               donor_key: str | None = None) -> Appended:
        """`donor_key` names who gave (an account or an e-mail address), for the listeners that
        count donors; it is never written to the ledger."""
        seq = self.size
        at = at or now_utc()
        entry = entries.build_entry(
            seq=seq, prev=self.prev.hex(), at=at, kind=kind, campaign=campaign, amount=amount,
            currency=currency, ref=ref, memo=memo, evidence=evidence, donor=donor, payment=payment,
            files=files)
        if ref is not None and not 0 <= ref < seq:
            raise entries.EntryError(f"ref {ref} does not point at an earlier entry")
        leaf = entries.canonical_bytes(entry)
        leaf_hash = tree.leaf_hash(leaf)
        base = tree.stored_hash_index(0, seq)
        for offset, h in enumerate(tree.stored_hashes_for_record_hash(seq, leaf_hash, self._read)):
            self._cache[base + offset] = h
            self._hash_rows.append({"idx": base + offset, "hash": h})
        self._entry_rows.append({
            "seq": seq, "leaf": leaf, "leaf_hash": leaf_hash, "prev": self.prev,
            "at": at, "kind": kind, "campaign": campaign, "amount": amount, "currency": currency,
            "ref": ref, "payment": payment,
        })
        totals = self._totals[campaign]
        totals["currency"] = currency
        if kind in TOTAL_EFFECTS:  # a report moves no money
            column, sign = TOTAL_EFFECTS[kind]
            totals[column] += sign * amount
        totals["donation_count"] += kind == "donation"
        totals["entry_count"] += 1
        totals["last_seq"] = seq
        if donor_key is not None:
            self._donor_keys[seq] = donor_key
        self.size, self.prev = seq + 1, leaf_hash
        if len(self._cache) > 4096:
            self._trim_cache()
        return Appended(seq, leaf, leaf_hash, entry)

    def _trim_cache(self) -> None:
        keep = _edge_indexes(self.size)
        self._cache = {i: h for i, h in self._cache.items() if i in keep}
        self._read = hash_reader(self.session, self._cache)

    def flush(self) -> None:
        if self._entry_rows:
            first = None
            if self._postgresql and len(self._entry_rows) <= ONE_STATEMENT_ROWS:
                # This runs under the append lock, so every round trip saved shortens everyone's
                # wait: a few entries, their hashes and the first campaign's totals go to
                # PostgreSQL as one statement (the inserts as data-modifying CTEs).
                params = {f"e_{c}": [row[c] for row in self._entry_rows] for c in _ENTRY_COLUMNS}
                params.update({f"h_{c}": [row[c] for row in self._hash_rows] for c in ("idx", "hash")})
                sql = _entries_hashes_and_totals(self.session.get_bind().dialect)
                first = (sql, params)
            else:
                self.session.execute(sa.insert(LedgerEntry), self._entry_rows)
                self.session.execute(sa.insert(LedgerHash), self._hash_rows)
            self._apply_totals(first)
            for listener in _append_listeners():
                listener(self.session, self._entry_rows, self._donor_keys)
            _remember_edge(self.size, self.prev, self._cache)
        self._entry_rows, self._hash_rows = [], []
        self._totals.clear()
        self._donor_keys = {}

    def _apply_totals(self, first: tuple | None = None) -> None:
        table = CampaignTotal.__table__
        for campaign, delta in self._totals.items():
            # The usual case, a campaign with totals in this currency, is one statement.
            params = {"t_campaign": campaign, "t_currency": delta["currency"],
                      "t_last_seq": delta["last_seq"],
                      "t_updated_at": now_utc(), **{f"t_{c}": delta[c] for c in _TOTAL_COLUMNS}}
            if first is None:
                updated = self.session.execute(_TOTALS_UPDATE, params)
            else:
                (sql, inserted), first = first, None
                updated = self.session.connection().exec_driver_sql(sql, {**inserted, **params})
            if updated.rowcount:
                continue
            existing = self.session.execute(
                sa.select(table.c.currency).where(table.c.campaign == campaign)).scalar_one_or_none()
            if existing is not None:
                raise LedgerError(f"campaign {campaign} keeps its books in {existing}, "
                                  f"not {delta['currency']}")
            self.session.execute(sa.insert(table).values(
                campaign=campaign, currency=delta["currency"], last_seq=delta["last_seq"],
                updated_at=now_utc(), **{c: delta[c] for c in _TOTAL_COLUMNS}))
        # ORM objects loaded earlier in this session must not show stale totals.
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, CampaignTotal):
                self.session.expire(obj)


def append(session: Session, **fields) -> Appended:
    """Append one entry in the caller's transaction (see Appender.append for the fields)."""
    appender = Appender(session)
    appended = appender.append(**fields)
    appender.flush()
    return appended


def leaf_hash_at(session: Session, seq: int) -> bytes:
    value = session.execute(sa.select(LedgerEntry.leaf_hash).where(LedgerEntry.seq == seq)).scalar_one()
    return bytes(value)


def inclusion_proof(session: Session, index: int, tree_size: int,
                    known: dict[int, bytes] | None = None) -> list[bytes]:
    """RFC 6962 audit path of entry `index` in the tree of `tree_size` entries: O(log n) reads,
    none for the stored hashes already `known` (index: hash)."""
    return tree.prove_record(tree_size, index, hash_reader(session, known))


def consistency_proof(session: Session, old: int, tree_size: int) -> list[bytes]:
    return tree.prove_tree(tree_size, old, hash_reader(session))


def signed_size(session: Session) -> int:
    """The size of the newest signed checkpoint (0 when none is): what tiles may cover."""
    value = session.execute(sa.select(LedgerCheckpoint.size).order_by(LedgerCheckpoint.size.desc())
                            .limit(1)).scalar_one_or_none()
    return value or 0


_HASH_RANGE = sa.text("SELECT idx, hash FROM ledger_hashes WHERE idx >= :low AND idx <= :high")


# Full tiles above level 0, by (database, level, index): (the subtree hash they make up, their
# hashes). Their 256 hashes lie far apart in the stored hashes and cost one index lookup each; a
# cached copy is served after one lookup of the stored hash of the subtree they span, which it
# must equal (so a database that was rewritten or swapped never gets another's tile).
_FULL_TILES: dict[tuple[str, int, int], tuple[bytes, list[bytes]]] = {}
_FULL_TILES_MAX = 1024  # 8 MiB


def tile_hashes(session: Session, tile: tiles.Tile) -> list[bytes]:
    """The stored hashes a C2SP hash tile is made of. A level-0 tile's leaf hashes lie in one range
    of about twice as many stored hashes (the interior ones between them), read in index order;
    higher tiles' hashes are far apart: read by index once, then kept (see _FULL_TILES)."""
    if tile.level == 0 or not tile.full:
        return _read_tile_hashes(session, tile)
    key = (str(session.get_bind().url), tile.level, tile.index)
    span_index = tree.stored_hash_index(tiles.TILE_HEIGHT * (tile.level + 1), tile.index)
    cached = _FULL_TILES.get(key)
    if cached is not None and hash_reader(session)([span_index])[0] == cached[0]:
        return cached[1]
    hashes = _read_tile_hashes(session, tile)
    span = tree.root_from_leaf_hashes(hashes)
    if hash_reader(session)([span_index])[0] == span:
        if len(_FULL_TILES) >= _FULL_TILES_MAX:
            _FULL_TILES.clear()
        _FULL_TILES[key] = (span, hashes)
    return hashes


def _read_tile_hashes(session: Session, tile: tiles.Tile) -> list[bytes]:
    indexes = tile.stored_hash_indexes()
    if tile.level != 0:
        if dialect_name(session) == "postgresql":
            return hash_reader(session)(indexes)
        # Integers only, so written into the statement: 256 bound parameters cost more to expand.
        rows = session.execute(sa.text(f"SELECT idx, hash FROM ledger_hashes WHERE idx IN "  # noqa: S608
                                       f"({','.join(map(str, indexes))})"))
    else:
        rows = session.execute(_HASH_RANGE, {"low": indexes[0], "high": indexes[-1]})
    found = dict(rows.all())
    try:
        return [bytes(found[i]) for i in indexes]
    except KeyError:
        raise LedgerError(f"stored hashes of tile {tile.path()} are missing") from None


# PostgreSQL: a tile and the newest signed size in one round trip, the tile built by the server
# (one bytea, read in binary), rather than BEGIN, two SELECTs, hundreds of rows and ROLLBACK.
_SIGNED = "(SELECT size FROM ledger_checkpoints ORDER BY size DESC LIMIT 1)"
_TILE_SQL = (f"SELECT {_SIGNED}, t.n, t.data FROM (SELECT count(*) AS n, "  # noqa: S608 - constants
             "string_agg(hash, ''::bytea ORDER BY idx) AS data FROM ledger_hashes "
             "WHERE idx = ANY(%s::int8[])) AS t")
# An entry bundle: each leaf after its length as a big-endian uint16 (the low 2 bytes of int4send).
_BUNDLE_SQL = (f"SELECT {_SIGNED}, b.n, b.longest, b.data FROM (SELECT count(*) AS n, "  # noqa: S608
               "max(length(leaf)) AS longest, string_agg(substring(int4send(length(leaf)) FROM 3) || leaf, "
               "''::bytea ORDER BY seq) AS data FROM ledger_entries WHERE seq >= %s AND seq < %s) AS b")


def _driver_cursor(source):
    connection = source if isinstance(source, sa.Connection) else source.connection()
    return connection.connection.driver_connection.cursor(binary=True)


def _signed_hashes(source, indexes: list[int]) -> tuple[int, list[bytes] | None]:
    """(newest signed size, the stored hashes at `indexes` (increasing), None if any is missing)."""
    with _driver_cursor(source) as cursor:
        # The array as its text literal: psycopg dumps a list of 256 ints far more slowly.
        cursor.execute(_TILE_SQL, ("{" + ",".join(map(str, indexes)) + "}",))
        signed, count, data = cursor.fetchone()
    if count != len(indexes):
        return signed or 0, None
    data = bytes(data)
    return signed or 0, [data[i:i + tree.HASH_SIZE] for i in range(0, len(data), tree.HASH_SIZE)]


def read_tile(source, tile: tiles.Tile) -> tuple[int, bytes | None]:
    """(newest signed size, the tile's body: its hashes, or the entry bundle) for the tile route.
    The body is None when the tile is not there; the caller answers 404 when the signed size is
    below tile.needs() in any case. One round trip on PostgreSQL (in autocommit), and none more
    for a full tile above level 0 already kept (_FULL_TILES) but the check of its subtree hash."""
    if dialect_name(source) != "postgresql":
        signed = signed_size(source)
        if tile.needs() > signed:
            return signed, None
        if tile.level is None:
            return signed, tiles.encode_bundle(bundle_leaves(source, tile))
        return signed, b"".join(tile_hashes(source, tile))
    if tile.level is None:
        start = tile.first_leaf()
        with _driver_cursor(source) as cursor:
            cursor.execute(_BUNDLE_SQL, (start, start + tile.width))
            signed, count, longest, data = cursor.fetchone()
        if count != tile.width:
            return signed or 0, None
        if longest > tiles.MAX_ENTRY_BYTES:
            raise tiles.TileError(f"a leaf of {longest} bytes does not fit an entry bundle")
        return signed or 0, bytes(data)
    if tile.level == 0 or not tile.full:
        signed, hashes = _signed_hashes(source, tile.stored_hash_indexes())
        return signed, None if hashes is None else b"".join(hashes)
    bind = source if isinstance(source, sa.Connection) else source.get_bind()
    key = (str(bind.engine.url), tile.level, tile.index)
    span_index = tree.stored_hash_index(tiles.TILE_HEIGHT * (tile.level + 1), tile.index)
    cached = _FULL_TILES.get(key)
    if cached is not None:
        signed, span = _signed_hashes(source, [span_index])
        if span is not None and span[0] == cached[0]:
            return signed, b"".join(cached[1])
    signed, hashes = _signed_hashes(source, tile.stored_hash_indexes())
    if hashes is None:
        return signed, None
    root = tree.root_from_leaf_hashes(hashes)
    if hash_reader(source)([span_index])[0] == root:
        if len(_FULL_TILES) >= _FULL_TILES_MAX:
            _FULL_TILES.clear()
        _FULL_TILES[key] = (root, hashes)
    return signed, b"".join(hashes)


def bundle_leaves(session: Session, tile: tiles.Tile) -> list[bytes]:
    """The leaves of a C2SP entry bundle, in one query."""
    start = tile.first_leaf()
    leaves = next(iter_leaf_batches(session, start, start + tile.width, tile.width), [])
    if len(leaves) != tile.width:
        raise LedgerError(f"entries {start}..{start + tile.width - 1} are missing")
    return leaves


def iter_leaves(session: Session, start: int, end: int, batch: int = 2000):
    """Leaves [start, end) in order, fetched in keyset batches so memory stays flat."""
    for leaves in iter_leaf_batches(session, start, end, batch):
        yield from leaves


def iter_leaf_batches(session: Session, start: int, end: int, batch: int = 2000):
    """Lists of up to `batch` leaves, [start, end) in order, one query per list."""
    if dialect_name(session) == "postgresql":
        yield from _binary_leaf_batches(session, start, end, batch)
        return
    for low in range(start, end, batch):
        high = min(low + batch, end)
        rows = session.execute(sa.select(LedgerEntry.leaf).where(
            LedgerEntry.seq >= low, LedgerEntry.seq < high).order_by(LedgerEntry.seq))
        yield [bytes(leaf) for (leaf,) in rows]


_LEAVES_SQL = "SELECT leaf FROM ledger_entries WHERE seq >= %s AND seq < %s ORDER BY seq"


def _binary_leaf_batches(session, start: int, end: int, batch: int):
    # PostgreSQL sends bytea as hex text unless the results are asked for in binary: decoding the
    # hex took most of an export's time (reads went from 49 to 125 MB/s, bench/ledger_pages.py).
    connection = session if isinstance(session, sa.Connection) else session.connection()
    with connection.connection.driver_connection.cursor(binary=True) as cursor:
        for low in range(start, end, batch):
            cursor.execute(_LEAVES_SQL, (low, min(low + batch, end)))
            yield [row[0] for row in cursor]
