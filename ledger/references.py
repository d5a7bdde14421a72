"""Business rows that point at ledger entries, checked against the entries they point at.

A paid donation, a refund, a chargeback, a fee and a disbursement each record the seq of the
entry that booked it. `flask ledger verify` checks that each such entry exists and says the same
thing as the row (kind, campaign, amount, currency, and the ref and provider reference when the
row knows them): an entry deleted after the last checkpoint, which no Merkle check can notice,
still leaves its donation pointing at a missing seq.

The ledger sits below the packages that own those rows, so it does not know them: each package
registers a source (a function of the session yielding References) when the app is built.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from ledger.models import LedgerEntry

BATCH = 1000
_UNKNOWN = object()  # the row does not record this member: not compared


@dataclass(frozen=True)
class Reference:
    """What a business row says its ledger entry holds."""

    what: str  # names the row for the report, e.g. "donation 13"
    seq: int
    kind: str
    campaign: str
    amount: int
    currency: str
    ref: object = _UNKNOWN  # int | None when known
    payment: object = _UNKNOWN  # str | None when known
    evidence: object = _UNKNOWN  # str | None when known (read from the leaf itself)
    files: object = _UNKNOWN  # list[str] | None when known (read from the leaf itself)


Source = Callable[[Session], Iterable[Reference]]


def register(app: Flask, source: Source) -> None:
    app.extensions.setdefault("ledger.references", []).append(source)


def sources(app: Flask) -> list[Source]:
    return list(app.extensions.get("ledger.references", []))


def _batches(items: Iterable[Reference]) -> Iterator[list[Reference]]:
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _mismatch(reference: Reference, entry) -> str | None:
    expected = {"kind": reference.kind, "campaign": reference.campaign, "amount": reference.amount,
                "currency": reference.currency, "ref": reference.ref, "payment": reference.payment}
    for member, value in expected.items():
        if value is not _UNKNOWN and getattr(entry, member) != value:
            return f"{member} is {getattr(entry, member)!r} in the ledger but {value!r} in {reference.what}"
    if reference.evidence is not _UNKNOWN or reference.files is not _UNKNOWN:
        leaf = json.loads(bytes(entry.leaf))
        for member in ("evidence", "files"):
            value = getattr(reference, member)
            if value is not _UNKNOWN and leaf.get(member) != value:
                return f"{member} is {leaf.get(member)!r} in the ledger but {value!r} in {reference.what}"
    return None


def problems(session: Session, all_sources: Iterable[Source]) -> Iterator[tuple[int, str]]:
    """(seq, problem) for every reference whose entry is missing or says something else."""
    columns = (LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.campaign, LedgerEntry.amount,
               LedgerEntry.currency, LedgerEntry.ref, LedgerEntry.payment, LedgerEntry.leaf)
    for source in all_sources:
        for batch in _batches(source(session)):
            found = {row.seq: row for row in session.execute(
                sa.select(*columns).where(LedgerEntry.seq.in_({r.seq for r in batch})))}
            for reference in batch:
                entry = found.get(reference.seq)
                if entry is None:
                    yield reference.seq, (f"{reference.what} points at seq {reference.seq}, "
                                          "which is not in the ledger")
                    continue
                mismatch = _mismatch(reference, entry)
                if mismatch:
                    yield reference.seq, f"{reference.what} does not match its entry: {mismatch}"
