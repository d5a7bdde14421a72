"""Organizations: create, manage (profile, members, papers) and, for admins, verify. Thin views.

The public page (/organizations/<slug>) lists campaigns, so it lives with the campaigns."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from accounts.permissions import Action, can, permission_required
from amanah.errors import UserError, ValidationError
from amanah.evidence import EvidenceError, read_limited
from amanah.extensions import db
from organizations import forms, services

bp = Blueprint("organizations", __name__)
INVALID = 422


def _load(slug: str, **_ignored):
    # permission_required passes every part of the URL (a member's id too): only the slug finds it.
    return services.get_by_slug(slug)


@bp.route("/organizations/new", methods=["GET", "POST"])
@permission_required(Action.CREATE_ORGANIZATION)
def create():
    form = forms.OrganizationForm()
    if form.validate_on_submit():
        try:
            org = services.create_organization(current_user, form.to_input())
        except ValidationError as exc:
            db.session.rollback()
            _attach(form, exc.errors)
        else:
            db.session.commit()
            flash(_("The organization is created. Upload its documents so that an admin can verify it."),
                  "success")
            return redirect(url_for("organizations.manage", slug=org.slug), code=303)
    return render_template("organizations/form.html", form=form), INVALID if request.method == "POST" else 200


def _attach(form, errors: dict[str, str]):
    """Show each message next to its field (the field macro reads field.errors)."""
    for name, message in errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
    return form


def _manage_page(org, *, profile=None, member=None, document=None, status=200):
    return render_template(
        "organizations/manage.html", org=org,
        form=profile or forms.OrganizationForm(obj=org, formdata=None, npwp=services.format_npwp(org.npwp)),
        member_form=member or forms.MemberForm(formdata=None),
        document_form=document or forms.DocumentForm(formdata=None),
        remove_form=FlaskForm()), status


@bp.route("/organizations/<slug>/manage", methods=["GET", "POST"])
@permission_required(Action.MANAGE_ORGANIZATION, _load)
def manage(slug: str):
    org = _load(slug)
    if request.method == "GET":
        return _manage_page(org)
    form = forms.OrganizationForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.update_organization(org, form.to_input())
    except ValidationError as exc:
        db.session.rollback()
        return _manage_page(_load(slug), profile=_attach(form, exc.errors), status=INVALID)
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("organizations.manage", slug=slug), code=303)


@bp.post("/organizations/<slug>/members")
@permission_required(Action.MANAGE_ORGANIZATION, _load)
def add_member(slug: str):
    org = _load(slug)
    form = forms.MemberForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.add_member(org, form.email.data, form.role.data)
    except UserError as exc:
        db.session.rollback()
        return _manage_page(_load(slug), member=_attach(form, {exc.field: str(exc.message)}), status=INVALID)
    db.session.commit()
    flash(_("Member added."), "success")
    return redirect(url_for("organizations.manage", slug=slug, _anchor="members"), code=303)


@bp.post("/organizations/<slug>/members/<int:member_id>/remove")
@permission_required(Action.MANAGE_ORGANIZATION, _load)
def remove_member(slug: str, member_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        services.remove_member(_load(slug), member_id)
    except UserError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("Member removed."), "success")
    return redirect(url_for("organizations.manage", slug=slug, _anchor="members"), code=303)


@bp.post("/organizations/<slug>/documents")
@permission_required(Action.MANAGE_ORGANIZATION, _load)
def upload_document(slug: str):
    org = _load(slug)
    form = forms.DocumentForm()
    if not form.validate_on_submit():
        abort(400)
    upload = request.files.get("document")
    try:
        data = read_limited(upload.stream) if upload else b""
        services.add_document(org, current_user, data, form.title.data or "")
    except (UserError, EvidenceError) as exc:
        db.session.rollback()
        field, message = (exc.field, exc.message) if isinstance(exc, UserError) else ("document", exc)
        return _manage_page(_load(slug), document=_attach(form, {field: str(message)}), status=INVALID)
    db.session.commit()
    flash(_("Document uploaded. An admin will check it."), "success")
    return redirect(url_for("organizations.manage", slug=slug, _anchor="documents"), code=303)


@bp.get("/organizations/<slug>/documents/<int:document_id>")
def document(slug: str, document_id: int):
    org = _load(slug)
    if org is None or not (can(current_user, Action.MANAGE_ORGANIZATION, org)
                           or can(current_user, Action.VERIFY_ORGANIZATION, org)):
        abort(404)  # private papers: others must not learn that they exist
    doc = next((d for d in org.documents if d.id == document_id), None)
    if doc is None:
        abort(404)
    try:
        response = services.send_document(
            doc, download_name=f"{org.slug}-{doc.id}{_extension(doc.content_type)}")
    except FileNotFoundError:
        current_app.logger.error("document %s of organization %s is missing", doc.sha256, org.id)
        abort(404)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _extension(content_type: str) -> str:
    return {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(content_type, "")


@bp.get("/admin/organizations")
@permission_required(Action.VERIFY_ORGANIZATION)
def verification_queue():
    return render_template("organizations/admin.html", waiting=services.awaiting_verification(),
                           everyone=services.directory())


@bp.route("/organizations/<slug>/verification", methods=["GET", "POST"])
@permission_required(Action.VERIFY_ORGANIZATION, _load)
def verification(slug: str):
    org = _load(slug)
    form = forms.VerifyForm()
    refused = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        decision = request.form.get("decision")
        if decision not in ("verify", "revoke"):
            abort(400)
        try:
            if decision == "verify":
                services.verify(org, current_user, form.note.data or "")
            else:
                services.revoke(org, form.note.data or "")
        except UserError as exc:
            db.session.rollback()
            org = _load(slug)
            if exc.field:
                _attach(form, {exc.field: str(exc.message)})
            else:
                refused = str(exc.message)
        else:
            db.session.commit()
            flash(_("The organization is verified.") if decision == "verify"
                  else _("The verification is withdrawn."), "success")
            return redirect(url_for("organizations.verification", slug=slug), code=303)
    failed = refused is not None or bool(form.note.errors)
    return render_template("organizations/verification.html", org=org, form=form, refused=refused), \
        INVALID if failed else 200
