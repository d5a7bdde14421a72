"""Which content-addressed uploads a committed transaction stands behind.

Uploads are stored under their hash, so two transactions that store the same bytes share one
file. Removing the file when one of them rolls back is only safe if the other has not committed a
row that names it; the other's row may not even be visible yet. So every transaction that stores
an upload inserts that key into `file_claims` before it writes the file, in the same transaction.
The table's primary key is the lock: on PostgreSQL a second insert of the same key waits until
the first transaction ends; on SQLite every transaction holds the write lock from BEGIN.

A rollback removes its file only after it has claimed the key itself, in a transaction of its
own (`remove_unless_claimed`): if anyone committed a claim meanwhile, the insert finds it and the
file stays; if someone is about to, the insert waits for them. That claim is rolled back again, so
a row in `file_claims` always means "a committed transaction stored this file".
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from amanah.db import now_utc
from amanah.extensions import db

log = logging.getLogger(__name__)


class FileClaim(db.Model):
    """A stored upload (by its storage key) that a committed transaction refers to."""

    __tablename__ = "file_claims"

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime]


def claim(session: Session, key: str, size: int) -> bool:
    """Claim `key` in the session's transaction. True when this transaction is the first to (no
    committed claim exists); on PostgreSQL it waits for a transaction that claimed it and is still
    open."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed = session.execute(insert(FileClaim.__table__).values(key=key, size=size, created_at=now_utc())
                              .on_conflict_do_nothing(index_elements=["key"]).returning(FileClaim.key))
    return claimed.scalar() is not None


def remove_unless_claimed(files, key: str) -> None:
    """After a rollback: remove the file at `key` unless a committed transaction claims it.

    Runs in a session of its own (the one that rolled back may be closing), whose claim is rolled
    back whatever happens."""
    session = db.session.session_factory()
    try:
        if claim(session, key, 0):
            files.delete(key)
        else:
            log.info("kept %s after a rollback: another transaction stored it too", key)
    finally:
        session.rollback()
        session.close()
