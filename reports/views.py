"""Progress report pages: post one, read one, fetch its document and evidence. Thin views."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.permissions import Action, can
from amanah import evidence as evidence_store
from amanah.errors import ValidationError
from amanah.extensions import db
from amanah.i18n import current_locale
from campaigns import services as campaign_services
from campaigns.rendering import render_markdown
from documents.pdf import render_pdf
from documents.views import send_pdf
from reports import forms, services
from reports.impact import impact_report
from treasury import disbursements

bp = Blueprint("reports", __name__, url_prefix="/campaigns/<public_id>/reports")
EVIDENCE_SLOTS = 3  # file inputs on the form (no JavaScript needed); a report holds up to 10 files


def _campaign(public_id: str):
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not can(current_user, Action.VIEW_CAMPAIGN, campaign):
        abort(404)
    return campaign


def _form_input(form, campaign) -> services.ReportInput:
    values = {i.id: request.form.get(f"value_{i.id}", "") for i in campaign.indicators}
    uploads = []
    for n in range(EVIDENCE_SLOTS):
        upload = request.files.get(f"evidence_{n}")
        if upload and upload.filename:
            # One byte past the limit is enough for the service to say the file is too large.
            uploads.append(services.EvidenceUpload(upload.stream.read(evidence_store.max_bytes() + 1),
                                                   request.form.get(f"evidence_title_{n}", ""), slot=n))
    chosen = [int(v) for v in request.form.getlist("disbursements") if v.isascii() and v.isdigit()]
    corrects = form.corrects.data
    return services.ReportInput(
        title=form.title.data or "", narrative=form.narrative.data or "", values=values, evidence=uploads,
        disbursement_ids=chosen, corrects=int(corrects) if corrects and corrects.isdigit() else None,
        final=bool(form.final.data))


@bp.route("/new", methods=["GET", "POST"])
def new(public_id: str):
    campaign = _campaign(public_id)
    if not can(current_user, Action.POST_PROGRESS_REPORT, campaign):
        abort(403)
    form = forms.ReportForm()
    earlier = services.reports_of(campaign)
    form.corrects.choices = [("", _("No, a new report")), *((str(r.number), f"#{r.number} {r.title}")
                                                             for r in earlier)]
    errors: dict[str, str] = {}
    if request.method == "GET" and request.args.get("final") == "1":
        form.final.data = True  # from the closed campaign's prompt
    if form.validate_on_submit():
        try:
            report = services.post_report(campaign, current_user, _form_input(form, campaign))
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("The report is posted and anchored in the public ledger."), "success")
            return redirect(url_for("reports.show", public_id=public_id, number=report.number), code=303)
        campaign = _campaign(public_id)
    for name, message in errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
    return render_template("reports/form.html", campaign=campaign, form=form, errors=errors,
                           problems=_problems(form, campaign, errors),
                           entered=request.form, slots=range(EVIDENCE_SLOTS),
                           disbursements=disbursements.for_campaign(campaign, limit=200)), \
        422 if form.is_submitted() else 200


def _problems(form, campaign, errors: dict[str, str]) -> list[tuple[str, str, str]]:
    """The form's errors for its summary, each as (the input's id, what it is, the message)."""
    names = {f"value_{i.id}": i.name for i in campaign.indicators}
    names |= {f"evidence_{n}": _("File %(n)d", n=n + 1) for n in range(EVIDENCE_SLOTS)}
    names["disbursements"] = _("Disbursements")
    problems = []
    for key, message in errors.items():
        if key in form:
            problems.append((form[key].id, str(form[key].label.text), message))
        elif key in names:
            problems.append((key, str(names[key]), message))
        elif key == "evidence" and not any(k.startswith("evidence_") for k in errors):
            problems.append(("evidence_0", _("Evidence"), message))  # else each file names its own
    return problems


@bp.get("/impact.pdf")
def impact(public_id: str):
    """The public impact report of a public campaign (money, indicators, reports and their proofs)."""
    campaign = _campaign(public_id)
    if not campaign.is_public:
        abort(404)
    locale = current_locale()
    doc = impact_report(campaign, locale)
    db.session.commit()  # a checkpoint may have been signed for it
    response = send_pdf(render_pdf("impact_report.html", doc, locale=locale),
                        f"impact-report-{campaign.public_id}.pdf")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/<int:number>")
def show(public_id: str, number: int):
    campaign = _campaign(public_id)
    report = services.get_report(campaign, number)
    if report is None:
        abort(404)
    corrected_by = [r for r in services.reports_of(campaign) if r.corrects_id == report.id]
    return render_template("reports/show.html", campaign=campaign, report=report,
                           narrative=render_markdown(report.narrative), corrected_by=corrected_by,
                           accounted=services.accounted_disbursements(report))


@bp.get("/<int:number>.json")
def document(public_id: str, number: int):
    """The canonical document, byte for byte as its SHA-256 stands in the ledger entry."""
    campaign = _campaign(public_id)
    report = services.get_report(campaign, number)
    if report is None:
        abort(404)
    response = Response(report.document, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@bp.get("/evidence/<sha256>")
def evidence(public_id: str, sha256: str):
    campaign = _campaign(public_id)
    row = services.evidence_of(campaign, sha256) if evidence_store.SHA256_PATTERN.match(sha256) else None
    if row is None:
        abort(404)
    suffix = ".pdf" if row.content_type == "application/pdf" else ""
    try:
        response = evidence_store.send(row.sha256, row.content_type, download_name=f"{sha256[:16]}{suffix}")
    except FileNotFoundError:
        current_app.logger.error("evidence %s of report %s is missing", sha256, row.report_id)
        abort(404)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
