"""Ledger test data: entries of every kind appended through the real storage."""
import itertools

import sqlalchemy as sa

from amanah.extensions import db
from ledger import storage

KINDS = [("donation", 5_000_000), ("fee", -150_000), ("donation", 2_500_000), ("refund", -2_500_000),
         ("disbursement", -1_000_000), ("chargeback", -500_000), ("chargeback_reversal", 500_000)]
_payments = itertools.count()


def fill(n: int, campaign: str = "camp00000001", currency: str = "IDR") -> list[storage.Appended]:
    """n entries cycling through every kind (as test_ledger_storage.fill), callable repeatedly."""
    appender = storage.Appender(db.session)
    out = []
    for i in range(n):
        kind, amount = KINDS[i % len(KINDS)]
        out.append(appender.append(kind=kind, campaign=campaign, amount=amount, currency=currency,
                                   payment=f"pay_{next(_payments)}", memo=f"entry {i}"))
    appender.flush()
    db.session.commit()
    return out


def add(kind="donation", campaign="camp00000001", amount=1_000_000, currency="IDR", **fields):
    appended = storage.append(db.session, kind=kind, campaign=campaign, amount=amount, currency=currency,
                              **fields)
    db.session.commit()
    return appended


def html(response) -> str:
    return response.get_data(as_text=True)



def allow_changes(table: str, operation: str = "DELETE") -> None:
    """Drop or disable `table`'s append-only trigger for `operation`, as an attacker with the
    database's owner rights could: undone when the test's transaction is rolled back."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change"))
    else:
        db.session.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{operation.lower()}"))



def cosign(size: int, signing_key: str, timestamp: int | None = None, corrupt: bool = False) -> str:
    """Store a witness's cosignature of the stored checkpoint of `size`, as witnesses.push_one
    would after the witness answered (signing_key: the witness's PRIVATE+KEY text). `corrupt`
    stores one that carries another time than the one it signed, so it does not verify.
    Returns the signature line."""
    import base64

    from ledger import checkpoints, cosignature, note
    from ledger.models import LedgerCosignature

    signer = cosignature.parse_witness_signing_key(signing_key)
    text, _lines = note._split_note(checkpoints.get(db.session, size).note)
    timestamp = timestamp or 1_780_000_000 + size
    line = signer.cosign(text, timestamp)
    if corrupt:
        head, b64 = line.rstrip("\n").rsplit(" ", 1)
        blob = bytearray(base64.b64decode(b64))
        blob[4:12] = (timestamp + 1).to_bytes(8, "big")
        line = f"{head} {base64.b64encode(bytes(blob)).decode()}\n"
    db.session.add(LedgerCosignature(size=size, witness=signer.name, key_id=signer.key_id,
                                     timestamp=timestamp, line=line))
    db.session.commit()
    return line
