"""Treasury pages: record a disbursement, serve evidence documents, record a transfer back to a
donor. Thin: parse, call, render."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from accounts.permissions import Action, can, permission_required
from amanah import evidence as evidence_store
from amanah import i18n
from amanah.errors import UserError, error_response
from amanah.extensions import db, login_manager
from amanah.money import MoneyError
from campaigns import services as campaign_services
from donations import giving
from donations.gateway import GatewayError
from donations.models import Donation
from treasury import campaign_donations, disbursements, donor_refunds, treasurers
from treasury.forms import DisbursementForm, ReversalForm, TreasurerForm

bp = Blueprint("treasury", __name__)
EVIDENCE_MAX_AGE = 365 * 24 * 3600


def _user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _merge_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        target = form._fields.get(name)
        if target is not None and message not in target.errors:
            target.errors = [*target.errors, message]


def _evidence_bytes(form) -> tuple[bytes | None, str | None]:
    upload = form.evidence.data
    if not upload or not getattr(upload, "filename", ""):
        return None, None
    try:
        return evidence_store.read_limited(upload.stream), None
    except evidence_store.EvidenceError as exc:
        return None, str(exc.args[0])


@bp.get("/treasury/")
@permission_required(Action.VIEW_TREASURY)
def overview():
    """The campaigns whose money the signed-in treasurer (or admin) looks after."""
    campaigns = disbursements.campaigns_to_manage(_user())
    ids = [campaign.id for campaign, _balance in campaigns]
    return render_template("treasury/overview.html", campaigns=campaigns,
                           recent=disbursements.recent_for_campaigns(ids),
                           held=campaign_donations.held_counts(ids))


@bp.get("/treasury/<public_id>/donations")
def campaign_donations_page(public_id: str):
    """The campaign's donations, for its treasurer and admins: search, held ones, refund links."""
    user = _user()
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not can(user, Action.VIEW_CAMPAIGN, campaign):
        abort(404)
    # The campaign's money is its treasurer's and the admins' (the rule disbursements follow).
    if not can(user, Action.RECORD_DISBURSEMENT, campaign):
        return login_manager.unauthorized() if user is None else abort(403)
    try:
        status, query, page = campaign_donations.parse_filters(
            request.args.get("status"), request.args.get("q"), request.args.get("page"))
    except UserError as exc:
        return error_response(400, str(exc.message), field=exc.field)
    listing = campaign_donations.donations_of(campaign, status, query, page)
    return render_template("treasury/donations.html", campaign=campaign, listing=listing, status=status,
                           query=query)


def _held_donation_form(donation_id: int):
    """(user, donation) for a form about a donation's money: its campaign's treasurer or an admin
    (404 for anyone else), with the form's CSRF token checked (400)."""
    user = _user()
    donation = db.session.get(Donation, donation_id)
    if donation is None or user is None or not can(user, Action.REFUND_DONATION, donation):
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    return user, donation


@bp.post("/treasury/donations/<int:donation_id>/book-held")
def book_held(donation_id: int):
    """Accept a payment held for a check as the gift, at the amount the provider reported."""
    user, donation = _held_donation_form(donation_id)
    # The list searched for this one donation: on any page of the whole list it would be lost.
    back = url_for("treasury.campaign_donations_page", public_id=donation.campaign.public_id,
                   q=f"#{donation_id}", _anchor=f"donation-{donation_id}")
    try:
        result = giving.book_held_payment(donation_id, user)
    except giving.BookingRefused as exc:
        flash(str(exc.message), "error")
        return redirect(back, code=303)
    except GatewayError:
        flash(_("The payment provider could not be reached; nothing was booked."), "error")
        return redirect(back, code=303)
    if result == "paid":
        donation = db.session.get(Donation, donation_id)
        flash(_("Donation #%(id)d is in the ledger as entry %(seq)d, at %(amount)s; the donor receives "
                "the receipt.", id=donation_id, seq=donation.ledger_seq,
                amount=i18n.format_money(donation.total, donation.currency)), "success")
    else:
        flash(_("This donation was booked meanwhile; nothing changed."), "info")
    return redirect(back, code=303)


@bp.post("/treasury/donations/<int:donation_id>/returned")
def held_returned(donation_id: int):
    """A payment held for a check went back to the donor through the provider: it can no longer be
    booked, and leaves the list."""
    user, donation = _held_donation_form(donation_id)
    public_id = donation.campaign.public_id
    if giving.mark_held_returned(donation_id, user) == "failed":
        flash(_("Donation #%(id)d is marked as returned to the donor; it can no longer be booked.",
                id=donation_id), "success")
    else:
        flash(_("This donation is no longer held for a check; nothing changed."), "info")
    return redirect(url_for("treasury.campaign_donations_page", public_id=public_id), code=303)


@bp.route("/treasury/<public_id>/disbursements/new", methods=["GET", "POST"])
def new_disbursement(public_id: str):
    user = _user()
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not can(user, Action.VIEW_CAMPAIGN, campaign):
        abort(404)  # whoever may not see the campaign must not learn that it exists
    if not can(user, Action.RECORD_DISBURSEMENT, campaign):
        return login_manager.unauthorized() if user is None else abort(403)
    form = DisbursementForm(campaign)
    if form.is_submitted():
        parsed = form.validate()
        evidence, evidence_error = _evidence_bytes(form)
        data = form.to_input(evidence)
        errors = disbursements.check(campaign, data)
        if evidence_error:
            errors["evidence"] = evidence_error
        if parsed and not errors:
            try:
                disbursement = disbursements.record(campaign, user, data)
            except disbursements.ValidationError as exc:
                db.session.rollback()  # release the append lock (and SQLite's write lock) at once
                errors = exc.errors
            else:
                db.session.commit()
                flash(_("The disbursement is recorded as ledger entry %(seq)d.", seq=disbursement.ledger_seq),
                      "success")
                if disbursement.evidence_metadata_removed:
                    flash(_("Location, camera and time metadata were removed from the image before it was "
                            "stored; the picture itself is unchanged. The ledger records the SHA-256 of the "
                            "cleaned file: %(sha256)s.", sha256=disbursement.evidence_sha256), "info")
                return redirect(url_for("campaigns.show", public_id=campaign.public_id, slug=campaign.slug,
                                        _anchor="disbursements"), code=303)
        _merge_errors(form, {k: v for k, v in errors.items() if not form[k].errors})
    status = 422 if form.is_submitted() else 200
    return render_template("treasury/form.html", form=form, campaign=campaign,
                           balance=disbursements.available_balance(campaign),
                           latest=disbursements.latest_paid_on()), status


@bp.route("/treasury/<public_id>/disbursements/<int:disbursement_id>/reverse", methods=["GET", "POST"])
def reverse_disbursement(public_id: str, disbursement_id: int):
    """Correct a disbursement recorded in error: confirm, give the public reason, and a
    `disbursement_reversal` entry gives the money back to the campaign."""
    user = _user()
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not can(user, Action.VIEW_CAMPAIGN, campaign):
        abort(404)
    disbursement = disbursements.get(campaign, disbursement_id)
    if disbursement is None or not can(user, Action.REVERSE_DISBURSEMENT, disbursement):
        abort(404)  # only those who may correct a disbursement learn that this page exists
    back = url_for("campaigns.show", public_id=campaign.public_id, slug=campaign.slug,
                   _anchor=f"disbursement-{disbursement.id}")
    if disbursement.reversal is not None:
        flash(_("This disbursement has already been corrected."), "warning")
        return redirect(back, code=303)
    form = ReversalForm()
    errors: dict[str, str] = {}
    if form.is_submitted():
        errors = disbursements.check_reason(form.reason.data or "")
        if form.validate() and not errors:
            try:
                reversal = disbursements.reverse(disbursement, user, form.reason.data or "")
            except disbursements.ValidationError as exc:
                db.session.rollback()
                errors = exc.errors
            except disbursements.ReversalRefused as exc:
                db.session.rollback()  # e.g. someone else corrected it a moment ago
                flash(str(exc.args[0]), "error")
                return redirect(back, code=303)
            else:
                db.session.commit()
                flash(_("The disbursement is corrected by ledger entry %(seq)d; its amount is back in the "
                        "campaign's available balance.", seq=reversal.ledger_seq), "success")
                return redirect(back, code=303)
        _merge_errors(form, errors)
    status = 422 if form.is_submitted() else 200
    return render_template("treasury/reverse.html", form=form, campaign=campaign,
                           disbursement=disbursement), status


@bp.route("/campaigns/<public_id>/treasurer", methods=["GET", "POST"])
def change_treasurer(public_id: str):
    """An admin hands a public campaign to another treasurer (the URL stays under the campaign's)."""
    user = _user()
    if not can(user, Action.REVIEW_CAMPAIGN):
        abort(404)  # like the review pages: hidden from everyone but the admins
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not can(user, Action.VIEW_CAMPAIGN, campaign):
        abort(404)
    if not can(user, Action.CHANGE_TREASURER, campaign):
        abort(403)  # not public yet, or the admin organizes it
    form = TreasurerForm()
    if form.validate_on_submit():
        try:
            treasurers.change_treasurer(campaign, user, form.treasurer_id.data, form.reason.data)
        except campaign_services.ValidationError as exc:
            _merge_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("The treasurer is changed; the change is in the campaign's history."), "success")
            return redirect(url_for("campaigns.show", public_id=campaign.public_id, slug=campaign.slug),
                            code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("treasury/treasurer_form.html", form=form, campaign=campaign), status


@bp.get("/evidence/<sha256>")
def evidence(sha256: str):
    """The document whose SHA-256 a disbursement entry carries: public ones to anyone, withheld ones
    to the campaign's treasurer, admins and auditors; 404 to everyone else."""
    disbursement = disbursements.by_evidence(sha256)
    if disbursement is None:
        abort(404)
    if not can(_user(), Action.VIEW_EVIDENCE, disbursement):
        abort(404)
    is_pdf = disbursement.evidence_type == "application/pdf"
    try:
        # PDFs are downloaded rather than opened in the site's origin; images display inline.
        response = evidence_store.send(
            sha256, disbursement.evidence_type, as_attachment=is_pdf, max_age=EVIDENCE_MAX_AGE,
            download_name=f"evidence-{sha256[:16]}.{disbursement.evidence_extension}")
    except FileNotFoundError:
        current_app.logger.error("evidence %s of disbursement %s is missing", sha256, disbursement.id)
        abort(404)
    if disbursement.evidence_public:
        # The address is the hash of the bytes: what it names can never change.
        response.headers["Cache-Control"] = f"public, max-age={EVIDENCE_MAX_AGE}, immutable"
        response.headers["Access-Control-Allow-Origin"] = "*"  # auditors' tools may fetch and hash it
    else:
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Cookie")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def evidence_state(sha256: str | None) -> str | None:
    """For templates (the ledger entry page): 'public', 'withheld', or None when no disbursement
    of ours holds a document with this hash."""
    public = disbursements.evidence_visibility(sha256) if sha256 else None
    if public is None:
        return None
    return "public" if public else "withheld"


def init_app(app) -> None:
    app.register_blueprint(bp)
    # The ledger's entry page asks it (when treasury is installed) whether evidence is public.
    app.jinja_env.globals["evidence_state"] = evidence_state


@bp.post("/treasury/donations/<int:donation_id>/transfer-back")
def transfer_back(donation_id: int):
    """A refund the provider cannot make (a virtual account's): the treasurer sent the money back by
    bank transfer and records it with its proof; the donor gets a credit note."""
    user = _user()
    donation = db.session.get(Donation, donation_id)
    if donation is None or user is None or not can(user, Action.REFUND_DONATION, donation):
        abort(404)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    reason = request.form.get("reason", "")
    errors: dict[str, str] = {}
    upload = request.files.get("evidence")
    evidence = None
    if upload is not None and upload.filename:
        try:
            evidence = evidence_store.read_limited(upload.stream)
        except evidence_store.EvidenceError as exc:
            errors["evidence"] = str(exc.args[0])
    try:
        amount = i18n.parse_money(request.form.get("amount", ""), donation.currency)
    except MoneyError as exc:
        errors["amount"] = str(exc)
    if not errors:
        try:
            donor_refunds.record_transfer_back(donation, user, amount, reason, evidence)
        except giving.RefundRefused as exc:
            db.session.rollback()
            errors[exc.field or "amount"] = str(exc)
    if errors:
        return render_template("donations/dashboard_refund.html", donation=donation, form=form,
                               errors=errors, entered=request.form, transfer_back=True), 422
    db.session.commit()
    flash(_("The transfer back to the donor is recorded in the ledger, and the donor's credit note is "
            "issued."), "success")
    return redirect(url_for("giving.refund_form", donation_id=donation_id), code=303)
