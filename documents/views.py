"""Receipts, credit notes, statements, campaign reports and bulk downloads. Thin: check, call, send.

Whoever may not see a document gets 404, the same answer as for one that does not exist.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from accounts.permissions import Action, can, permission_required
from amanah.extensions import db
from amanah.i18n import current_locale
from amanah.links import absolute_url
from campaigns import services
from documents import bulk, receipts, signing, statements
from documents.models import Document
from documents.pdf import render_pdf
from donations import dashboard

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
    found = receipts.download_access(serial)
    if found is None or not can(current_user, Action.VIEW_DONATION_DOCUMENT, found):
        abort(404)
    stored = receipts.stored_pdf(found.id)
    if stored is None:  # the first download renders it
        return _send_document(db.session.get(Document, found.id))
    return send_pdf(stored[0], f"{serial}.pdf", stored[1])


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


@bp.get("/donations/mine/statement.pdf")
@permission_required(Action.DOWNLOAD_STATEMENT)
def statement():
    """The signed-in donor's statement for a date range (e.g. a tax year)."""
    try:
        start, end = statements.parse_range(request.args)
    except statements.RangeError as exc:
        donations = dashboard.donations_of(current_user)
        return render_template("donations/dashboard.html", donations=donations,
                               docs=statements.documents_by_donation(donations),
                               statement_error=exc, statement_args=request.args), 400
    locale = current_locale()
    data = render_pdf("statement.html", statements.donor_statement(current_user, start, end, locale),
                      locale=locale)
    response = send_pdf(data, f"donation-statement-{start}-{end}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _campaign_for_documents(public_id: str, action: Action):
    """The campaign, to whoever may both see it and do `action`; 404 to everyone else."""
    campaign = services.get_by_public_id(public_id)
    if (campaign is None or not can(current_user, action, campaign)
            or not can(current_user, Action.VIEW_CAMPAIGN, campaign)):
        abort(404)
    return campaign


@bp.get("/campaigns/<public_id>/documents/report.pdf")
def campaign_report(public_id: str):
    """The campaign's financial report, for its treasurer, auditors and admins."""
    campaign = _campaign_for_documents(public_id, Action.VIEW_CAMPAIGN_REPORT)
    locale = current_locale()
    report = statements.campaign_report(campaign, locale)
    db.session.commit()  # a checkpoint may have been signed for the report
    response = send_pdf(render_pdf("campaign_report.html", report, locale=locale),
                        f"financial-report-{campaign.public_id}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/documents/signing-certificate.pem")
def signing_certificate():
    """The certificate every issued PDF is signed with, for readers and auditors to trust."""
    response = Response(signing.signing_key().pem, mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = 'attachment; filename="amanah-signing.pem"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# ---- bulk downloads ----

@bp.get("/campaigns/<public_id>/documents/receipts")
@login_required
def bulk_form(public_id: str):
    campaign = _campaign_for_documents(public_id, Action.BULK_DOWNLOAD)
    return render_template("documents/bulk_form.html", campaign=campaign,
                           jobs=bulk.jobs_of(current_user, campaign),
                           error=None, args={}, form=FlaskForm())


@bp.post("/campaigns/<public_id>/documents/receipts")
@login_required
def bulk_start(public_id: str):
    campaign = _campaign_for_documents(public_id, Action.BULK_DOWNLOAD)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        start, end = statements.parse_range(request.form)
    except statements.RangeError as exc:
        return render_template("documents/bulk_form.html", campaign=campaign, error=exc, args=request.form,
                               jobs=bulk.jobs_of(current_user, campaign), form=form), 400
    # The site's own address (SERVER_NAME when configured), never the request's Host header: the
    # receipts the job renders are stored for good, links and QR codes included.
    job = bulk.start_job(current_user, campaign, start, end, base_url=absolute_url("main.home"),
                         locale=current_locale())
    db.session.commit()  # hands the job to the background
    return redirect(url_for("documents.job_page", token=job.token), code=303)


def _job(token: str):
    job = bulk.job_for(token, current_user)
    if job is None:
        abort(404)
    return job


@bp.get("/documents/jobs/<token>")
@login_required
def job_page(token: str):
    job = _job(token)
    response = Response(render_template("documents/job.html", job=job, status=bulk.status_of(job)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/documents/jobs/<token>.json")
@login_required
def job_status(token: str):
    job = _job(token)
    body = bulk.status_of(job)
    if job.status == "done":
        body["download_url"] = url_for("documents.job_download", token=job.token)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/documents/jobs/<token>/download")
@login_required
def job_download(token: str):
    job = _job(token)
    if job.status != "done" or not job.filename:
        abort(404)
    try:
        return bulk.send_zip(job)
    except FileNotFoundError:
        abort(404)
