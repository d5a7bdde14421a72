"""Receipts, credit notes, statements, campaign reports and bulk downloads. Thin: check, call, send.

Whoever may not see a document gets 404, the same answer as for one that does not exist.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask_login import current_user

from donations import dashboard, receipts
from donations.documents import Document

bp = Blueprint("documents", __name__)

PDF_CACHE = "private, max-age=86400"


def send_pdf(data: bytes, filename: str, etag: str | None = None) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = PDF_CACHE
    if etag:
        response.set_etag(etag)
        response.make_conditional(request)
    return response


def _send_document(document: Document) -> Response:
    data, digest = receipts.document_pdf(document)
    return send_pdf(data, f"{document.serial}.pdf", digest)


@bp.get("/receipts/<serial>.pdf")
def document(serial: str):
    """A receipt or credit note by its number, for the donor, the campaign's treasurer and admins."""
    found = receipts.get_by_serial(serial)
    if found is None or not receipts.can_download(current_user, found.donation):
        abort(404)
    return _send_document(found)


@bp.get("/donations/view/<token>/receipt.pdf")
def guest_receipt(token: str):
    """The receipt through the signed link e-mailed to the donor."""
    donation = dashboard.donation_from_token(token)
    found = receipts.ensure_receipt(donation) if donation is not None else None
    if found is None:
        abort(404)
    return _send_document(found)


@bp.get("/donations/view/<token>/documents/<serial>.pdf")
def guest_document(token: str, serial: str):
    """Any document of the donation behind the signed link (its credit notes too)."""
    donation = dashboard.donation_from_token(token)
    found = receipts.get_by_serial(serial) if donation is not None else None
    if found is None or found.donation_id != donation.id:
        abort(404)
    return _send_document(found)
