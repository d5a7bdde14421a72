"""The app's side of C2SP tlog-witness: pushing signed checkpoints to LEDGER_WITNESSES and keeping
the cosignatures they answer, which /ledger/checkpoint serves as extra signature lines.

A push never runs inside a request: after a new checkpoint is signed and committed, schedule()
starts a background thread, one at a time per process. A witness that is down costs that thread
a timeout and nothing else; it gets the newest checkpoint, with a consistency proof from the size
it last cosigned, the next time a checkpoint is fetched (at most every RETRY_SECONDS) or when
`flask ledger push-witnesses` runs.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from amanah.extensions import db
from ledger import consistency, cosignature, storage
from ledger.models import LedgerCheckpoint, LedgerCosignature

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 5.0
RETRY_SECONDS = 30.0
# A cosignature is stored only while its checkpoint is the newest, or was superseded less than this
# long ago (a push under way when the next checkpoint was signed). After that a checkpoint's
# cosignatures can never change, so what serves them may be cached as immutable.
FINAL_AFTER_SECONDS = 120
USER_AGENT = "amanah-ledger/1"


class Witness(NamedTuple):
    url: str  # the submission prefix; the request goes to <url>/add-checkpoint
    key: cosignature.WitnessVerifier


def configured(config) -> list[Witness]:
    """LEDGER_WITNESSES: `<URL> <witness verifier key>` per witness, separated by `;` or newlines."""
    raw = config.get("LEDGER_WITNESSES") or ""
    witnesses = []
    for item in re.split(r"[;\n]", raw):
        if not item.strip():
            continue
        url, _, key = item.strip().partition(" ")
        if not url.startswith(("http://", "https://")) or not key.strip():
            raise ValueError(f"LEDGER_WITNESSES: expected `<http(s) URL> <witness key>`, "
                             f"got {item.strip()!r}")
        witnesses.append(Witness(url.rstrip("/"), cosignature.parse_witness_key(key.strip())))
    return witnesses


def cosignatures(session: Session, size: int) -> list[LedgerCosignature]:
    return list(session.execute(sa.select(LedgerCosignature).where(LedgerCosignature.size == size)
                                .order_by(LedgerCosignature.witness)).scalars())


def cosigned_note(session: Session, checkpoint: LedgerCheckpoint) -> str:
    """The checkpoint's note with every cosignature collected for its size."""
    return cosigned_text(session, checkpoint.size, checkpoint.note)


def cosignatures_final(session: Session, size: int, now: dt.datetime | None = None) -> bool:
    """Whether the checkpoint of `size` can gain no more cosignatures: a larger checkpoint was
    signed more than FINAL_AFTER_SECONDS ago. Witnesses are only ever sent the newest checkpoint,
    and push_one stores nothing for one superseded that long ago."""
    superseded = session.execute(
        sa.select(LedgerCheckpoint.created_at).where(LedgerCheckpoint.size > size)
        .order_by(LedgerCheckpoint.size).limit(1)).scalar()
    if superseded is None:
        return False
    if superseded.tzinfo is None:  # SQLite hands back naive UTC
        superseded = superseded.replace(tzinfo=dt.UTC)
    now = storage.now_utc() if now is None else now
    return (now - superseded).total_seconds() > FINAL_AFTER_SECONDS


def cosigned_text(session: Session, size: int, signed_note: str) -> str:
    """A checkpoint's note (the log's signature only) with every cosignature collected for it."""
    return cosignature.add_signature_lines(signed_note, [c.line for c in cosignatures(session, size)])


class WitnessStatus(NamedTuple):
    name: str
    url: str
    key: str
    size: int | None  # the largest size it has cosigned, None if none yet
    timestamp: int | None


def status(session: Session) -> list[WitnessStatus]:
    """Each configured witness with the newest checkpoint size it has cosigned (one query)."""
    witnesses = configured(current_app.config)
    if not witnesses:
        return []
    rows = dict(session.execute(
        sa.select(LedgerCosignature.witness, sa.func.max(LedgerCosignature.size))
        .where(LedgerCosignature.witness.in_([w.key.name for w in witnesses]))
        .group_by(LedgerCosignature.witness)).all())
    out = []
    for w in witnesses:
        size = rows.get(w.key.name)
        found = session.get(LedgerCosignature, (size, w.key.name)) if size is not None else None
        out.append(WitnessStatus(w.key.name, w.url, w.key.text(), size, found.timestamp if found else None))
    return out


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 - configured http(s) URLs only (configured())
        f"{url}/add-checkpoint", data=body, method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _last_cosigned_size(session: Session, witness: Witness) -> int:
    value = session.execute(sa.select(sa.func.max(LedgerCosignature.size))
                            .where(LedgerCosignature.witness == witness.key.name)).scalar()
    return value or 0


def push_one(session: Session, witness: Witness, size: int, signed_note: str) -> str:
    """Ask one witness to cosign the checkpoint for `size`; store its cosignature. Returns what
    happened. No transaction stays open while the witness is asked (on SQLite every transaction
    holds the write lock), so a slow witness holds up nobody."""
    old = _last_cosigned_size(session, witness)
    for _attempt in range(2):  # a 409 tells the size the witness has; try once more from there
        if old > size:
            session.rollback()
            return f"the witness has cosigned size {old}, larger than {size}"
        proof = storage.consistency_proof(session, old, size) if 0 < old < size else []
        session.rollback()
        body = cosignature.add_checkpoint_request(old, proof, signed_note)
        try:
            status, answer = _post(witness.url, body)
        except (urllib.error.URLError, OSError) as exc:
            return f"unreachable: {getattr(exc, 'reason', exc)}"
        if status == 409 and re.fullmatch(r"(0|[1-9][0-9]{0,18})\n", answer):
            old = int(answer)
            continue
        if status != 200:
            return f"refused with {status}: {answer.strip()[:200]}"
        try:
            found = cosignature.verify_cosignatures(
                cosignature.add_signature_lines(signed_note, answer.splitlines()), [witness.key])
        except cosignature.CosignatureError as exc:
            return f"bad answer: {exc}"
        if not found:
            return "the answer holds no cosignature by the configured key"
        got = found[0]
        if cosignatures_final(session, size):
            session.rollback()
            return f"cosigned too late: size {size} was superseded more than {FINAL_AFTER_SECONDS} s ago"
        # The first cosignature stored for a size stays: what was served (and cached) never changes.
        insert = pg_insert if storage.dialect_name(session) == "postgresql" else sqlite_insert
        session.execute(insert(LedgerCosignature).values(
            size=size, witness=got.witness, key_id=witness.key.key_id, timestamp=got.timestamp,
            line=got.line, created_at=storage.now_utc(),
        ).on_conflict_do_nothing(index_elements=["size", "witness"]))
        session.commit()
        return "cosigned"
    return "the witness keeps answering 409"


def push(session: Session, witnesses: list[Witness] | None = None) -> dict[str, str]:
    """Send the newest checkpoint to every configured witness that has not cosigned it yet."""
    witnesses = configured(current_app.config) if witnesses is None else witnesses
    newest = consistency.newest_signed(session)
    results = {}
    if newest is None:
        session.rollback()
        return results
    size, signed_note = newest.size, newest.note
    have = {c.witness for c in cosignatures(session, size)}
    session.rollback()
    for witness in witnesses:
        if witness.key.name in have:
            results[witness.key.name] = "cosigned"
            continue
        results[witness.key.name] = outcome = push_one(session, witness, size, signed_note)
        if outcome != "cosigned":
            log.warning("ledger witness %s (%s) did not cosign size %d: %s", witness.key.name, witness.url,
                        size, outcome)
    return results


_running = threading.Lock()
_last_attempt: dict[str, float] = {"size": -1, "at": 0.0}


def missing(found: list[LedgerCosignature]) -> bool:
    """Whether a configured witness has not cosigned (found: the checkpoint's cosignatures)."""
    have = {c.witness for c in found}
    return any(w.key.name not in have for w in configured(current_app.config))


def schedule(app, size: int) -> None:
    """Push in a background thread: right away for a size not tried yet in this process, else at
    most every RETRY_SECONDS (a witness that was down). One push at a time per process."""
    now = time.monotonic()
    if size == _last_attempt["size"] and now - _last_attempt["at"] < RETRY_SECONDS:
        return
    if not _running.acquire(blocking=False):
        return
    _last_attempt.update(size=size, at=now)
    threading.Thread(target=_push_in_background, args=(app,), name="ledger-witness-push", daemon=True).start()


def _push_in_background(app) -> None:
    try:
        with app.app_context():
            try:
                push(db.session)
            except Exception:
                log.exception("pushing the ledger checkpoint to witnesses failed")
            finally:
                db.session.remove()
    finally:
        _running.release()
