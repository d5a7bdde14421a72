"""The log's signing key and its signed checkpoints."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from amanah.config import ConfigError, instance_secret
from ledger import consistency, note, storage, tree
from ledger.models import LedgerCheckpoint

KEY_FILE = "ledger_signing_key"


def signing_key_text() -> str:
    """LEDGER_SIGNING_KEY, or a key generated once into the instance folder (mode 0600)."""
    origin = current_app.config["LEDGER_ORIGIN"]
    text = current_app.config.get("LEDGER_SIGNING_KEY") or instance_secret(
        Path(current_app.instance_path), KEY_FILE, lambda: note.generate_key(origin)[0] + "\n")
    signer = note.parse_signing_key(text)
    if signer.name != origin:
        raise ConfigError(f"the ledger signing key is named {signer.name!r} but LEDGER_ORIGIN is "
                          f"{origin!r}; they must match (generate one with `flask ledger keygen`)")
    return text


def verifier_key_text() -> str:
    return note.parse_signing_key(signing_key_text()).verifier().text()


def root(session: Session, size: int) -> bytes:
    return tree.tree_hash(size, storage.hash_reader(session)) if size else tree.EMPTY_ROOT


def latest(session: Session) -> LedgerCheckpoint | None:
    return session.execute(
        sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)).scalar_one_or_none()


def get(session: Session, size: int) -> LedgerCheckpoint | None:
    return session.get(LedgerCheckpoint, size)


def checkpoint_for_current_size(session: Session) -> LedgerCheckpoint:
    """The checkpoint of the ledger as it is now, signing one if this size has none yet.

    Signing is deterministic (Ed25519), and the size is the primary key: two requests racing for
    the same size produce the same note, and the insert that loses is simply ignored. A tree that
    does not extend the newest signed checkpoint is never signed, nor served as current
    (consistency.CheckpointRefused).
    """
    origin = current_app.config["LEDGER_ORIGIN"]
    size = storage.size(session)
    newest = consistency.newest_signed(session)
    if newest is not None and newest.size == size:
        return newest
    root_hash = root(session, size)
    consistency.require_extension(session, origin, size, root_hash, newest)
    text = note.sign_checkpoint(origin, size, root_hash, signing_key_text())
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(LedgerCheckpoint).values(
        size=size, root=root_hash, note=text, created_at=storage.now_utc()
    ).on_conflict_do_nothing(index_elements=["size"]))
    stored = get(session, size)
    if stored.root != root_hash:  # only possible if the stored hashes were tampered with
        raise storage.LedgerError(f"checkpoint for size {size} already exists with another root")
    return stored
