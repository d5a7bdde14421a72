"""The documents that giving issues as money moves, supplied by the documents package.

A receipt copies its donation, so documents/ imports donations/, and donations/ may not import
documents/ back. Giving still has to number a receipt (or credit note, or cancellation) in the
same transaction that records the payment: the documents package hands its functions over here
when the app is built (documents.init_app calls register), and giving asks for them by name.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

_KEY = "donations.document_issuer"


@dataclasses.dataclass(frozen=True)
class DocumentIssuer:
    # Each issues a numbered document (with a `serial`) in the caller's transaction, committing nothing.
    receipt: Callable[[Any, bytes], Any]  # (donation, leaf hash of its ledger entry)
    credit_note: Callable[[Any, bytes], Any]  # (refund, leaf hash of the refund entry)
    cancellation: Callable[[Any, bytes], Any | None]  # (refund, leaf hash of its reversal); None: no note
    documents_of: Callable[[int], list]  # a donation's documents (serial, kind), in issue order
    # The receipts of a batch of confirmations, [(donation, leaf hash)] in ledger order, numbered
    # in that order, in the caller's transaction; returns their serials. None: one by one.
    receipts: Callable[[list[tuple[Any, bytes]]], list[str]] | None = None


def register(app: Flask, issuer: DocumentIssuer) -> None:
    app.extensions[_KEY] = issuer


def issuer() -> DocumentIssuer:
    try:
        return current_app.extensions[_KEY]
    except KeyError:
        raise RuntimeError("no document issuer: the documents package registers one in init_app") from None
