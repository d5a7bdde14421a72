"""A checkpoint is signed only if it extends the newest one already signed.

A signed checkpoint is a promise to every auditor who fetched it: the ledger at that size, and
every later ledger extends it. If entries went missing (deleted by someone able to disable the
database's triggers) or the stored tree hashes were rewritten, signing the ledger as it is now
would sign a history that contradicts one already published. So before signing, the newest
stored checkpoint is looked up and the new tree must extend it: a size at least as large, the
same root at the same size, and a consistency proof from the stored hashes that the pure core
(ledger.verify.verify_checkpoint_extension) accepts. Otherwise nothing is signed.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import storage, tree
from ledger.models import LedgerCheckpoint
from ledger.note import Checkpoint
from ledger.verify import verify_checkpoint_extension

log = logging.getLogger(__name__)


class CheckpointRefused(storage.LedgerError):
    """The ledger as stored does not extend the newest signed checkpoint: signing is refused."""


def newest_signed(session: Session) -> LedgerCheckpoint | None:
    return session.execute(
        sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)).scalar_one_or_none()


def extension_problem(session: Session, origin: str, size: int, root: bytes,
                      newest: LedgerCheckpoint | None) -> str | None:
    """Why a tree of `size` with `root` does not extend `newest` (newest_signed(), read by the
    caller in this transaction; None when nothing is signed yet), or None when it does."""
    if newest is None:
        return None
    old = Checkpoint(origin, newest.size, bytes(newest.root))
    if size < old.size:
        return (f"the ledger has {size} entries but a checkpoint for size {old.size} is already "
                f"signed: entries were removed")
    try:
        proof = tree.prove_tree(size, old.size, storage.hash_reader(session)) if old.size else []
    except (storage.LedgerError, tree.ProofError) as exc:
        return f"no consistency proof from the signed size {old.size} to size {size}: {exc}"
    if not verify_checkpoint_extension(old, Checkpoint(origin, size, root), proof):
        return (f"the tree of size {size} does not extend the checkpoint signed for size {old.size} "
                f"(its root or the stored hashes changed)")
    return None


def require_extension(session: Session, origin: str, size: int, root: bytes,
                      newest: LedgerCheckpoint | None) -> None:
    """Raise CheckpointRefused (and log why) unless the tree extends the newest signed checkpoint."""
    problem = extension_problem(session, origin, size, root, newest)
    if problem is not None:
        log.error("ledger checkpoint signing refused: %s", problem)
        raise CheckpointRefused(problem)
