"""Side effects tied to the database transaction: mail, background jobs, files.

`after_commit(fn, *args, **kwargs)` runs `fn` once the current transaction of `db.session` has
committed, and never if it rolls back: a request that fails before its commit sends no mail and
starts no job. `on_rollback(fn, ...)` is its mirror, for undoing something done outside the
database (a file written) when the rows that refer to it are thrown away.

Each callback is tied to the innermost transaction open when it was registered. Rolling back a
savepoint drops only what was registered inside it (and marks its `on_rollback` callbacks to
run); releasing a savepoint hands its callbacks on to the enclosing transaction. Both kinds run
once the outermost transaction has ended, in the order they were registered: the after-commit
ones if it committed, so that a callback may use the session again (a job run inline); the
rollback ones whatever it did, so that an undo may look at the database from outside every
transaction of ours (amanah.file_claims waits for other writers; inside a transaction that holds
SQLite's write lock, it would wait for itself). A callback that raises is logged
and the others still run: the transaction has committed, and failing the request now would only
hide that it did.

Tests run each test inside one connection-level transaction, with the session's own transaction
as a savepoint in it (tests/conftest.py). To the session that savepoint is its outermost
transaction, so the code under test sees its callbacks run when it commits, as in production.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from amanah.extensions import db

log = logging.getLogger(__name__)

_PENDING = "amanah.transactions.pending"
_COMMITTED = "amanah.transactions.committed"
_UNDONE = "amanah.transactions.undone"  # on_rollback callbacks of savepoints rolled back


@dataclass(frozen=True, eq=False)  # compared by identity
class _Callback:
    transaction: SessionTransaction  # the innermost transaction when it was registered
    call: functools.partial
    on_commit: bool  # True: run after the commit; False: run if it rolls back


def after_commit(fn, /, *args, **kwargs) -> None:
    """Run `fn(*args, **kwargs)` after the current transaction of db.session commits."""
    _register(fn, args, kwargs, on_commit=True)


def on_rollback(fn, /, *args, **kwargs) -> None:
    """Run `fn(*args, **kwargs)` if the current transaction (or savepoint) of db.session ends
    without a commit, once the outermost transaction is over: to undo what the database cannot
    (a file written for rows now gone)."""
    _register(fn, args, kwargs, on_commit=False)


def pending() -> list[functools.partial]:
    """The after-commit callbacks waiting for the current transaction (for tests)."""
    return [c.call for c in db.session.info.get(_PENDING, []) if c.on_commit]


def _register(fn, args, kwargs, *, on_commit: bool) -> None:
    session = db.session()
    if not session.in_transaction():
        # Tie the callback to a transaction, so that a rollback (even of nothing yet) settles it.
        session.begin()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append(
        _Callback(transaction, functools.partial(fn, *args, **kwargs), on_commit))


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _committed(session: Session) -> None:
    # Also called when a savepoint is released: its callbacks simply stay, tied to it, and follow
    # the enclosing transaction through its `parent`.
    if session.in_nested_transaction():
        return
    callbacks = session.info.pop(_PENDING, [])
    session.info.setdefault(_COMMITTED, []).extend(c for c in callbacks if c.on_commit)


def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    callbacks = session.info.get(_PENDING, [])
    dropped = [c for c in callbacks if _within(c.transaction, previous_transaction)]
    if dropped:
        session.info[_PENDING] = [c for c in callbacks if c not in dropped]
        session.info.setdefault(_UNDONE, []).extend(c for c in dropped if not c.on_commit)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    # The outermost transaction is over. What it committed runs now that the session is free
    # again; anything still pending was not committed (rolled back, or closed with the session).
    committed = session.info.pop(_COMMITTED, [])
    undone = session.info.pop(_UNDONE, []) + [c for c in session.info.pop(_PENDING, []) if not c.on_commit]
    _run(undone)
    _run(committed)


def _run(callbacks: list[_Callback]) -> None:
    for callback in callbacks:
        try:
            callback.call()
        except Exception:
            log.exception("%s callback %r failed", "after-commit" if callback.on_commit else "rollback",
                          callback.call.func)


def init_app(app) -> None:
    for name, listener in (("after_commit", _committed), ("after_soft_rollback", _rolled_back),
                           ("after_transaction_end", _ended)):
        if not sa.event.contains(db.session, name, listener):
            sa.event.listen(db.session, name, listener)
