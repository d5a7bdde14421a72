"""Confirmations that arrive together are appended together: flat combining through the database.

A confirmation (a checkout event, already authenticated and its session re-fetched from the
provider, outside any transaction) used to take the ledger's append lock for its own
transaction: lock, entries, receipt, COMMIT, and only then could the next one start. Every
confirmation paid a whole commit (a WAL flush) under the lock. gunicorn's sync workers are
separate processes, so the confirmations that queue up meet only in the database. There:

1. `confirm` records the event in `pending_confirmations` and commits. On PostgreSQL that table
   is UNLOGGED: recording writes no WAL and waits for no flush.
2. It asks for the append lock without waiting (`pg_try_advisory_xact_lock`). Got it: it leads.
   Not: somebody is leading; it waits for the lock in *shared* mode (taken and released in one
   statement), which every waiter is granted together the moment the leader commits, reads its
   row, and answers if its outcome is there. Otherwise (it arrived after the leader had read the
   queue) it tries again; after QUEUE_AFTER_TURNS tries it waits for the lock proper, in the
   queue, and leads the next batch.
3. The leader applies every waiting event (up to BATCH_LIMIT), in id order, which is the order
   in which they were recorded, each in a savepoint of one transaction, through the same code as
   before (giving._apply_checkout: the event id's unique row, the donation's row, the ledger
   entries, the receipt numbered in ledger order, the mail queued for after the commit), writes
   each outcome into its row, and commits once. One event that fails rolls back to its savepoint
   alone; its outcome says so and its request is answered with an error the provider retries.

So exactly-once, ordering and "nothing half-written" are what they were: the same unique event
id, the same row lock and one-way status, one transaction per batch instead of per event, and an
event is answered 200 only when the commit that applied it is done. Every donor mail of a batch
goes out from the leader's process after that commit.

Lock order: everywhere else money moves it is the donation's row, then the append lock. The
leader takes rows after the lock, so it takes them with NOWAIT: a donation whose row somebody
holds (a refund waiting for the append lock) is not waited for, which could deadlock; that one
event is answered 503 and retried.

SQLite has one writer: every transaction begins with BEGIN IMMEDIATE (amanah.db), which is the
lock, so a confirmation always leads, and applies whatever else is waiting with its own. Same
code, no waiting in shared mode.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from amanah.db import now_utc
from amanah.extensions import db
from donations import giving
from donations.giving import RetryLater
from donations.models import PaymentEvent, PendingConfirmation
from ledger import storage

log = logging.getLogger(__name__)

# At most this many events in one transaction: a long queue becomes several batches.
BATCH_LIMIT = 64
# Finished rows are deleted once their requests must have read them (gunicorn's timeout is 30 s).
KEEP_FINISHED_SECONDS = 60
_CLEANUP_EVERY_SECONDS = 10
# A request whose event is still waiting after this many leaders queues for the lock itself.
QUEUE_AFTER_TURNS = 3

RETRY, ERROR = "retry", "error"  # outcomes that are not answers: 503 and 500, the provider retries

_TABLE = PendingConfirmation.__table__
_TRY_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=storage.APPEND_LOCK_KEY)
# Waits until no one holds the lock exclusively, and holds it no longer than that statement.
_LEADER_DONE = sa.text("SELECT pg_advisory_lock_shared(:key), pg_advisory_unlock_shared(:key)").bindparams(
    key=storage.APPEND_LOCK_KEY)
_OUTCOME = sa.select(_TABLE.c.outcome).where(_TABLE.c.id == sa.bindparam("id"))
_WAITING = (sa.select(_TABLE.c.id, _TABLE.c.provider, _TABLE.c.event_id, _TABLE.c.type, _TABLE.c.object,
                      _TABLE.c.notify)
            .where(_TABLE.c.outcome.is_(None)).order_by(_TABLE.c.id).limit(BATCH_LIMIT))
# PostgreSQL: _WAITING, with the ids of its events recorded in payment_events at once (each id
# once, with the type of its first delivery; ids recorded before are left as they are), and, for
# each event, whether its id was recorded now (a duplicate delivered earlier: false).
_WAITING_RECORDED = sa.text(
    "WITH waiting AS (SELECT id, provider, event_id, type, object, notify FROM pending_confirmations "  # noqa: S608
    f"WHERE outcome IS NULL ORDER BY id LIMIT {BATCH_LIMIT:d}), "  # (a constant int)
    "recorded AS (INSERT INTO payment_events (event_id, type, received_at) "
    "SELECT DISTINCT ON (event_id) event_id, type, :at FROM waiting ORDER BY event_id, id "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
    "SELECT w.id, w.provider, w.event_id, w.type, w.object, w.notify, "
    "w.event_id IN (SELECT event_id FROM recorded) AS recorded FROM waiting w ORDER BY w.id").bindparams(
    sa.bindparam("at", type_=PaymentEvent.__table__.c.received_at.type)).columns(
    _TABLE.c.id, _TABLE.c.provider, _TABLE.c.event_id, _TABLE.c.type, _TABLE.c.object, _TABLE.c.notify,
    sa.column("recorded", sa.Boolean))
_FINISH = (sa.update(_TABLE).where(_TABLE.c.id == sa.bindparam("b_id"))
           .values(outcome=sa.bindparam("b_outcome"), finished_at=sa.bindparam("b_at")))
_last_cleanup = 0.0


class ConfirmationFailed(RuntimeError):
    """The event's own transaction failed (logged by whoever applied it): answered 500, retried."""


def confirm(provider: str, event_id: str, event_type: str, obj: dict) -> str:
    """Apply one checkout event of `provider` whose object `obj` was just re-fetched from it;
    returns what happened (giving.handle_event's answer), once the commit that applied it is done.
    Raises giving.RetryLater or ConfirmationFailed when it could not be applied."""
    notify = not (has_request_context() and g.get("_no_donation_mail"))
    mine = _record(provider, event_id, event_type, obj, notify)
    outcome, turn = None, 0
    while outcome is None:
        outcome = _take_turn(mine, turn)
        turn += 1
    _clean_up()
    if outcome == RETRY:
        raise RetryLater(f"event {event_id} could not be applied now",
                         facts={"code": "event_not_applied", "event": event_id})
    if outcome == ERROR:
        raise ConfirmationFailed(f"event {event_id} failed")
    return outcome


_RECORD = sa.insert(_TABLE).returning(_TABLE.c.id)


def _record(provider: str, event_id: str, event_type: str, obj: dict, notify: bool) -> int:
    db.session.rollback()
    try:
        mine = db.session.execute(_RECORD, {
            "provider": provider, "event_id": event_id, "type": event_type, "object": obj, "notify": notify,
            "received_at": now_utc()}).scalar_one()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return mine


def _take_turn(mine: int, turn: int) -> str | None:
    """Wait for the append lock; lead a batch when the event is still waiting then. Returns its
    outcome, or None when it has to wait for another turn."""
    session = db.session
    asked = time.perf_counter()
    try:
        if storage.dialect_name(session) == "postgresql" and not session.execute(_TRY_LOCK).scalar_one():
            session.execute(_LEADER_DONE)  # granted when the leader commits, to all waiters at once
            outcome = _outcome_of(mine)  # a new statement: it sees what the leader committed
            session.rollback()
            if outcome is not None or turn < QUEUE_AFTER_TURNS:
                # Not done: try again. Most often someone else took the lock first, and its batch
                # has this event; queueing for the lock now would only find it done.
                return outcome
            asked = time.perf_counter()
            storage.lock(session)  # in the queue for the lock proper (so no turn is ever lost)
        return _lead(mine, asked)
    except BaseException:
        session.rollback()
        raise


def _outcome_of(mine: int) -> str | None:
    row = db.session.execute(_OUTCOME, {"id": mine}).first()
    # A row already deleted was finished long ago (KEEP_FINISHED_SECONDS): by an earlier leader.
    return "duplicate" if row is None else row.outcome


def _lead(mine: int, asked: float) -> str | None:
    """Holding the append lock: apply every waiting event, in order, in this one transaction."""
    session = db.session
    locked = time.perf_counter()
    if storage.dialect_name(session) == "postgresql":
        # The waiting events read and their ids recorded in one statement: one round trip less
        # under the lock. A failed batch rolls the ids back with everything else.
        rows = session.execute(_WAITING_RECORDED, {"at": now_utc()}).all()
        outcomes = _apply_together(rows, {row.event_id for row in rows if row.recorded}) if rows else {}
    else:
        rows = session.execute(_WAITING).all()
        outcomes = _apply_together(rows) if rows else {}
    if outcomes is None:  # rolled back, and the lock with it: take it again, then one by one
        session.rollback()
        storage.lock(session)
        rows = session.execute(_WAITING).all()
        outcomes = {row.id: _apply(row, mine) for row in rows}
    at = now_utc()
    if outcomes:
        session.execute(_FINISH, [{"b_id": i, "b_outcome": o, "b_at": at} for i, o in outcomes.items()])
    outcome = outcomes[mine] if mine in outcomes else _outcome_of(mine)
    committed = []  # when the lock was released: the after-commit callbacks (mails) run later
    sa.event.listen(session(), "after_commit", lambda _s: committed.append(time.perf_counter()), once=True)
    session.commit()
    done = committed[0] if committed else time.perf_counter()
    log.debug("confirmation batch: %d events, append lock waited %.2f ms, held %.2f ms",
              len(rows), (locked - asked) * 1000, (done - locked) * 1000)
    return outcome


def _apply_together(rows, recorded: set[str] | None = None) -> dict[int, str] | None:
    """Every event of the batch at once, with as few statements as they allow: their ids recorded
    in one INSERT, their donations locked and loaded in one query, their ledger entries written in
    one statement at the end (giving.confirming_together). None when anything failed: the caller
    then rolls the transaction back and applies them one by one, each in its savepoint. (No
    savepoint here: two statements more for every batch, to spare a rare failure a new turn.)"""
    outcomes: dict[int, str] = {}
    first: dict[str, object] = {}
    for row in rows:
        if row.event_id in first:
            outcomes[row.id] = "duplicate"  # delivered twice, both waiting: the first one counts
        else:
            first[row.event_id] = row
    try:
        if recorded is None:
            recorded = _record_event_ids(list(first.values()))
        todo = []
        for row in first.values():
            if row.event_id in recorded:
                todo.append(row)
            else:
                outcomes[row.id] = "duplicate"
        donation_ids = [giving.donation_id_in(row.object.get("metadata")) for row in todo]
        with giving.confirming_together([i for i in donation_ids if i is not None]):
            for row in todo:
                with _mails(row.notify):
                    outcomes[row.id] = giving.apply_checkout(row.provider, row.type, row.object)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":
            raise
        log.info("a donation's row of the batch is locked: applying its events one by one")
        return None
    except Exception:
        log.info("the batch failed together: applying its events one by one", exc_info=True)
        return None
    return dict(sorted(outcomes.items()))


_EVENTS = PaymentEvent.__table__


def _record_event_ids(rows) -> set[str]:
    """Record the events' ids; returns those recorded now (the others were, before). SQLite: on
    PostgreSQL the leader records them as it reads them (_WAITING_RECORDED)."""
    statement = (sqlite_insert(_EVENTS).values([{"event_id": row.event_id, "type": row.type,
                                                 "received_at": now_utc()} for row in rows])
                 .on_conflict_do_nothing(index_elements=["event_id"]).returning(_EVENTS.c.event_id))
    return set(db.session.execute(statement).scalars())


def _apply(row, mine: int) -> str:
    """One waiting event, in a savepoint: what giving's handlers return, or RETRY or ERROR."""
    session = db.session
    try:
        with session.begin_nested(), _mails(row.notify), giving.donation_rows_nowait():
            session.add(PaymentEvent(event_id=row.event_id, type=row.type))
            try:
                session.flush()
            except IntegrityError:
                raise _Duplicate from None
            return giving.apply_checkout(row.provider, row.type, row.object)
    except _Duplicate:
        return "duplicate"
    except giving.RetryLater as exc:
        log.info("event %s deferred: %s", row.event_id, exc)
        return RETRY
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available (NOWAIT)
            raise  # the database itself failed: the whole batch fails, 503 for everyone waiting
        log.info("event %s deferred: its donation's row is locked", row.event_id)
        return RETRY
    except Exception:
        log.exception("event %s (%s) could not be applied%s", row.event_id, row.type,
                      "" if row.id == mine else " for another request")
        return ERROR


class _Duplicate(Exception):
    """The event id is recorded already (its savepoint rolled back)."""


@contextlib.contextmanager
def _mails(notify: bool):
    """The donor mails of an event go out as its own request asked (demo data asks for none)."""
    if not has_request_context():
        yield
        return
    before = g.get("_no_donation_mail")
    g._no_donation_mail = not notify
    try:
        yield
    finally:
        g._no_donation_mail = before


def _clean_up() -> None:
    """Now and then, outside the lock: delete rows finished long enough ago to have been read."""
    global _last_cleanup  # noqa: PLW0603 - one timestamp per process
    now = time.monotonic()
    if now - _last_cleanup < _CLEANUP_EVERY_SECONDS:
        return
    _last_cleanup = now
    try:
        db.session.execute(sa.delete(_TABLE).where(
            _TABLE.c.finished_at < now_utc() - dt.timedelta(seconds=KEEP_FINISHED_SECONDS)))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def drain() -> int:
    """Apply whatever waits (events whose requests died before their turn), as a leader does;
    returns how many. `flask payments reconcile` runs it first."""
    drained = 0
    while True:
        db.session.rollback()
        try:
            storage.lock(db.session)
            count = db.session.scalar(sa.select(sa.func.count()).select_from(_TABLE)
                                      .where(_TABLE.c.outcome.is_(None))) or 0
            if not count:
                db.session.rollback()
                return drained
            _lead(-1, time.perf_counter())
        except BaseException:
            db.session.rollback()
            raise
        drained += min(count, BATCH_LIMIT)
