"""`flask ledger verify`: re-derive everything stored in the database and compare.

Checks, in one pass over the entries in seq order: each leaf is a valid canonical entry whose
seq and prev are its position and the previous leaf hash; the stored leaf hash and typed columns
match the leaf bytes; every stored interior hash equals the one recomputed from the leaves; and
each stored checkpoint is validly signed over the root of the tree at its size, and none was
signed after a larger one. Then what is derived from the entries or points at them: every
campaign's running totals (running_totals.py), and every business row that records the seq of
its entry (references.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import entry as entries
from ledger import note, references, tree
from ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHash
from ledger.running_totals import Recount

BATCH = 5000


@dataclass
class AuditResult:
    size: int = 0
    checkpoints: int = 0
    bad_seq: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, seq: int | None, problem: str) -> AuditResult:
        self.bad_seq, self.problem = seq, problem
        return self


def _columns_match(row, parsed: dict) -> bool:
    return (row.kind == parsed["kind"] and row.campaign == parsed["campaign"]
            and row.amount == parsed["amount"] and row.currency == parsed["currency"]
            and row.ref == parsed.get("ref") and row.payment == parsed.get("payment")
            and entries.format_at(row.at) == parsed["at"])


def verify_database(session: Session, verifier_text: str, origin: str, progress=None,
                    reference_sources: list[references.Source] | None = None) -> AuditResult:
    result = AuditResult()
    recount = Recount()
    verifier = note.parse_verifier_key(verifier_text)
    cps = {cp.size: cp for cp in session.execute(sa.select(LedgerCheckpoint)).scalars()}
    compact = tree.CompactRange()
    frontier: dict[int, bytes] = {}
    prev = bytes(32)
    seq = 0

    def read_frontier(indexes: list[int]) -> list[bytes]:
        return [frontier[i] for i in indexes]
    if 0 in cps and not _checkpoint_ok(result, cps[0], compact.root(), verifier, origin):
        return result
    while True:
        rows = session.execute(
            sa.select(LedgerEntry).where(LedgerEntry.seq >= seq).order_by(LedgerEntry.seq).limit(BATCH)
        ).scalars().all()
        if not rows:
            break
        low, high = tree.stored_hash_index(0, seq), tree.stored_hash_index(0, seq + len(rows))
        stored = dict(session.execute(sa.select(LedgerHash.idx, LedgerHash.hash).where(
            LedgerHash.idx >= low, LedgerHash.idx < high)).all())
        for row in rows:
            problem = _check_row(row, seq, prev)
            if problem:
                return result.fail(seq, problem)
            leaf_hash = tree.leaf_hash(bytes(row.leaf))
            base = tree.stored_hash_index(0, seq)
            expected = tree.stored_hashes_for_record_hash(seq, leaf_hash, read_frontier)
            for offset, h in enumerate(expected):
                got = stored.get(base + offset)
                if got is None or bytes(got) != h:
                    return result.fail(seq, f"stored tree hash {base + offset} does not match the leaves")
                frontier[base + offset] = h
            compact.append(leaf_hash)
            recount.add(seq, row.kind, row.campaign, row.amount, row.currency)
            prev, seq = leaf_hash, seq + 1
            if seq in cps and not _checkpoint_ok(result, cps[seq], compact.root(), verifier, origin):
                return result
        session.expunge_all()  # keep memory flat over millions of rows
        _trim(frontier, seq)
        if progress:
            progress(seq)
    result.size = seq
    extra = session.execute(sa.select(sa.func.count()).select_from(LedgerHash).where(
        LedgerHash.idx >= tree.stored_hash_index(0, seq))).scalar_one()
    if extra:
        return result.fail(seq, f"{extra} stored tree hashes beyond the last entry")
    problem = _checkpoint_history_problem(cps, seq)
    if problem:
        return result.fail(None, problem)
    result.checkpoints = len(cps)
    return _check_derived(result, session, recount, reference_sources or [])


def _check_row(row, seq: int, prev: bytes) -> str | None:
    leaf = bytes(row.leaf)
    if row.seq != seq:
        return f"entry {seq} is missing (next stored entry is {row.seq})"
    try:
        parsed = entries.parse_entry(leaf)
    except entries.EntryError as exc:
        return f"leaf is not a valid canonical entry: {exc}"
    if parsed["seq"] != seq:
        return f"leaf says seq {parsed['seq']}"
    if parsed["prev"] != prev.hex() or bytes(row.prev) != prev:
        return "hash chain broken: prev is not the previous entry's leaf hash"
    if bytes(row.leaf_hash) != tree.leaf_hash(leaf):
        return "stored leaf hash does not match the leaf bytes"
    if not _columns_match(row, parsed):
        return "typed columns do not match the leaf bytes"
    return None


def _checkpoint_ok(result: AuditResult, cp, root: bytes, verifier, origin: str) -> bool:
    try:
        body = note.open_checkpoint(cp.note, [verifier], origin=origin)
    except note.NoteError as exc:
        result.fail(None, f"checkpoint for size {cp.size}: {exc}")
        return False
    if body.size != cp.size or body.root != root or bytes(cp.root) != root:
        result.fail(cp.size - 1 if cp.size else None,
                    f"checkpoint for size {cp.size} does not match the tree of the stored leaves")
        return False
    return True


def _check_derived(result: AuditResult, session: Session, recount: Recount,
                   reference_sources: list[references.Source]) -> AuditResult:
    """Every problem of the campaign totals and of the rows pointing at entries: all reported."""
    found = [(None, problem) for problem in recount.problems(session)]
    found += references.problems(session, reference_sources)
    if found:
        result.fail(*found[0])
        result.notes = [problem for _seq, problem in found[1:]]
    return result


def _checkpoint_history_problem(cps: dict, size: int) -> str | None:
    beyond = [cp_size for cp_size in cps if cp_size > size]
    if beyond:
        return f"checkpoint for size {min(beyond)} is beyond the ledger ({size} entries)"
    return _signed_smaller_after_larger(cps.values())


def _signed_smaller_after_larger(cps) -> str | None:
    """Checkpoints in the order they were signed must never shrink: a smaller one signed after a
    larger one means the ledger went back (entries removed) when it was signed."""
    largest = None
    for cp in sorted(cps, key=lambda cp: (cp.created_at, cp.size)):
        if largest is not None and cp.size < largest.size:
            return (f"checkpoint for size {cp.size} was signed after the checkpoint for size "
                    f"{largest.size}: the ledger went back")
        if largest is None or cp.size > largest.size:
            largest = cp
    return None


def _trim(frontier: dict[int, bytes], size: int) -> None:
    """Keep only the right edge of the tree: later records never read anything else."""
    keep = {tree.stored_hash_index(level, (size >> level) - 1)
            for level in range(size.bit_length()) if size >> level & 1}
    for index in [i for i in frontier if i not in keep]:
        del frontier[index]
