"""Giving reaches the documents package only through the issuer it registers (donations.issuing)."""
from __future__ import annotations

import pytest
from flask import Flask

from documents import receipts
from donations import issuing


def test_the_app_registers_the_documents_packages_issuer(app):
    with app.app_context():
        issuer = issuing.issuer()
    assert issuer.receipt is receipts.issue_receipt
    assert issuer.credit_note is receipts.issue_credit_note
    assert issuer.cancellation is receipts.issue_cancellation
    assert issuer.documents_of is receipts.documents_of


def test_without_the_documents_package_giving_says_what_is_missing():
    bare = Flask("bare")
    with bare.app_context(), pytest.raises(RuntimeError, match="documents package"):
        issuing.issuer()


def test_an_issuer_is_per_app():
    first, second = Flask("first"), Flask("second")
    calls = []
    issuing.register(first, issuing.DocumentIssuer(receipt=lambda d, h: calls.append(d), credit_note=None,
                                                   cancellation=None, documents_of=lambda i: []))
    with first.app_context():
        issuing.issuer().receipt("donation", b"")
    with second.app_context(), pytest.raises(RuntimeError):
        issuing.issuer()
    assert calls == ["donation"]
