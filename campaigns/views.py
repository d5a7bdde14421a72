"""Campaign pages. Thin: parse the request, call a service, render; one commit per request."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.permissions import Action, can, permission_required
from amanah.errors import error_response
from amanah.extensions import db, login_manager
from campaigns import (
    categories,
    images,
    indicators,
    lifecycle,
    page_cache,
    panels,
    regions,
    revisions,
    search,
    services,
)
from campaigns.forms import (
    ActionForm,
    CampaignForm,
    CloseForm,
    IndicatorForm,
    RejectForm,
    UpdateForm,
    amount_text,
)
from campaigns.lifecycle import IllegalTransition, Transition
from campaigns.rendering import render_markdown
from ledger import formatting, queries

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
COVER_MAX_AGE = 365 * 24 * 3600


def _user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _campaign_or_404(public_id: str):
    campaign = services.get_by_public_id(public_id)
    if campaign is None or not can(_user(), Action.VIEW_CAMPAIGN, campaign):
        abort(404)
    return campaign


def _deny(campaign):
    """Refuse: 404 to whoever may not know the campaign exists, else login or 403."""
    if not can(_user(), Action.VIEW_CAMPAIGN, campaign):
        abort(404)
    if _user() is None:
        return login_manager.unauthorized()
    abort(403)


def _admin_or_404():
    # The review pages are hidden from everyone else, signed in or not.
    if not can(_user(), Action.REVIEW_CAMPAIGN):
        abort(404)


def _allows(campaign, transition: Transition) -> bool:
    return transition in lifecycle.allowed_from(campaign.status)


def _may_close(user, campaign) -> bool:
    """The close button and its route: who may close (permissions), and only a published campaign
    (the lifecycle; the service itself answers IllegalTransition for the rest)."""
    return can(user, Action.CLOSE_CAMPAIGN, campaign) and _allows(campaign, Transition.CLOSE)


def _canonical(campaign, **kwargs):
    return url_for("campaigns.show", public_id=campaign.public_id, slug=campaign.slug, **kwargs)


def _merge_errors(form, errors: dict[str, str]) -> None:
    for field, message in errors.items():
        target = form._fields.get(field)
        if target is not None and message not in target.errors:
            target.errors = [*target.errors, message]


def _cover_bytes(form) -> tuple[bytes | None, str | None]:
    upload = form.cover.data
    if not upload or not getattr(upload, "filename", ""):
        return None, None
    try:
        return images.read_limited(upload.stream), None
    except images.ImageError as exc:
        return None, str(exc.args[0])


@bp.get("/")
@page_cache.shared
def index():
    if services.close_expired():  # lazy: deadlines that passed since the last read
        db.session.commit()
    try:
        filters = search.parse_filters(request.args)
    except search.FilterError as exc:
        return error_response(400, f"{exc.field}: {exc.message}", field=exc.field)
    return render_template("campaigns/index.html", page=search.search(filters), filters=filters,
                           categories=categories.choices(), regions=regions.choices(),
                           sorts=[(k, str(v)) for k, v in search.SORT_LABELS.items()])


@bp.get("/covers/<name>")
def cover(name: str):
    if not images.is_cover_name(name):
        abort(404)
    try:
        response = images.send_cover(name, COVER_MAX_AGE)
    except FileNotFoundError:
        abort(404)
    # The name is the hash of the bytes: the file behind a URL never changes.
    response.headers["Cache-Control"] = f"public, max-age={COVER_MAX_AGE}, immutable"
    return response


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Action.CREATE_CAMPAIGN)
def new():
    return _edit_form(None)


@bp.route("/<public_id>/edit", methods=["GET", "POST"])
def edit(public_id: str):
    campaign = _campaign_or_404(public_id)
    if not can(_user(), Action.EDIT_CAMPAIGN, campaign):
        return _deny(campaign)
    return _edit_form(campaign)


def _edit_form(campaign):
    form = CampaignForm(obj=campaign)
    form.offer_organizations(campaign.organizer if campaign is not None else _user(),
                             campaign.organization if campaign is not None else None)
    if request.method == "GET" and campaign is not None:
        form.goal.data = amount_text(campaign.goal, campaign.currency)
    if form.is_submitted():
        parsed = form.validate()
        cover, cover_error = _cover_bytes(form)
        data = form.to_input(cover)
        errors = services.check_campaign(data, campaign, _user())
        if cover_error:
            errors["cover"] = cover_error
        if parsed and not errors:
            if campaign is None:
                campaign = services.create_campaign(_user(), data)
                db.session.commit()
                # Writing a campaign goes on with what it will achieve: its outcome indicators.
                flash(_("The draft is saved. Now say what it will achieve: declare its outcome "
                        "indicators, then submit it for review from its page."), "success")
                return redirect(url_for("campaigns.indicators_page", public_id=campaign.public_id), code=303)
            services.update_campaign(campaign, _user(), data)
            flash(_("Your changes are saved."), "success")
            db.session.commit()
            return redirect(_canonical(campaign), code=303)
        _merge_errors(form, {k: v for k, v in errors.items() if not form[k].errors})
    status = 422 if form.is_submitted() else 200
    return render_template("campaigns/form.html", form=form, campaign=campaign), status


@bp.get("/mine")
@permission_required(Action.CREATE_CAMPAIGN)  # an organizer's page
def mine():
    return render_template("campaigns/mine.html", campaigns=services.campaigns_of(_user()))


@bp.get("/<public_id>", defaults={"slug": None})
@bp.get("/<public_id>/<slug>")
@page_cache.shared
def show(public_id: str, slug: str | None):
    campaign = _campaign_or_404(public_id)
    if services.close_if_expired(campaign):
        db.session.commit()
    if slug != campaign.slug:
        return redirect(_canonical(campaign), code=301)
    user = _user()
    totals = search.totals_for(campaign)
    finances = queries.campaign_finances(campaign.public_id) if campaign.is_public else None
    return render_template(
        "campaigns/show.html", campaign=campaign, totals=totals,
        finances=finances, chart=finances and formatting.campaign_chart(finances),
        percent=search.Card(campaign, totals).percent,
        story=render_markdown(campaign.story), days_left=services.days_left(campaign),
        updates=[(u, render_markdown(u.body)) for u in campaign.updates],
        outcome=indicators.progress_of(campaign),
        can_edit=can(user, Action.EDIT_CAMPAIGN, campaign),
        can_submit=can(user, Action.SUBMIT_CAMPAIGN, campaign) and _allows(campaign, Transition.SUBMIT),
        can_close=_may_close(user, campaign), can_post=can(user, Action.POST_CAMPAIGN_UPDATE, campaign),
        can_review=can(user, Action.REVIEW_CAMPAIGN, campaign) and _allows(campaign, Transition.PUBLISH),
        history=campaign.transitions if can(user, Action.VIEW_CAMPAIGN_HISTORY, campaign) else None,
        revision_count=services.revision_count(campaign) if campaign.is_public else 0,
        panels=panels.panels_for(campaign, user),  # donations', documents' and treasury's sections
        action_form=ActionForm(), close_form=CloseForm())


@bp.get("/<public_id>/changes")
def changes(public_id: str):
    """Every recorded edit of the campaign since publication, the newest first; public like the campaign."""
    campaign = _campaign_or_404(public_id)
    described = [revisions.describe(r, campaign) for r in services.revisions_of(campaign)]
    return render_template("campaigns/changes.html", campaign=campaign, revisions=described)


@bp.post("/<public_id>/submit")
def submit(public_id: str):
    campaign = _campaign_or_404(public_id)
    if not can(_user(), Action.SUBMIT_CAMPAIGN, campaign):
        return _deny(campaign)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            services.submit(campaign, _user())
        except IllegalTransition:
            flash(_("This campaign cannot be submitted now."), "error")
        except services.ValidationError as exc:
            flash(next(iter(exc.errors.values())), "error")
        else:
            db.session.commit()
            flash(_("Submitted. An admin will review the campaign."), "success")
    return redirect(_canonical(campaign), code=303)


@bp.post("/<public_id>/close")
def close(public_id: str):
    campaign = _campaign_or_404(public_id)
    if not _may_close(_user(), campaign):
        return _deny(campaign)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            services.close(campaign, _user(), form.reason.data)
        except (IllegalTransition, services.ValidationError):
            flash(_("This campaign cannot be closed now."), "error")
        else:
            db.session.commit()
            reports_installed = "reports.new" in current_app.view_functions
            if reports_installed and can(_user(), Action.POST_PROGRESS_REPORT, campaign):
                # Closing asks for the final report (the campaign's page keeps asking until there is one).
                flash(_("The campaign is closed. Now post its final report: what the money achieved."),
                      "success")
                return redirect(url_for("reports.new", public_id=campaign.public_id, final=1), code=303)
            flash(_("The campaign is closed."), "success")
    return redirect(_canonical(campaign), code=303)


@bp.get("/review/")
def review_queue():
    _admin_or_404()
    return render_template("campaigns/review_queue.html", campaigns=services.review_queue())


@bp.route("/<public_id>/review", methods=["GET", "POST"])
def review(public_id: str):
    _admin_or_404()
    campaign = _campaign_or_404(public_id)
    reject_form, action_form = RejectForm(), ActionForm()
    status = 200
    if request.method == "POST" and action_form.validate_on_submit():
        decision = request.form.get("decision")
        try:
            if decision == "publish":
                services.publish(campaign, _user())
                message = _("The campaign is published.")
            elif decision == "reject":
                services.reject(campaign, _user(), reject_form.reason.data)
                message = _("The campaign is rejected; the organizer can see why.")
            else:
                abort(400)
        except services.PermissionDenied:
            abort(403)
        except IllegalTransition:
            flash(_("This campaign is no longer awaiting review."), "error")
            return redirect(url_for("campaigns.review", public_id=public_id), code=303)
        except services.ValidationError as exc:
            _merge_errors(reject_form, exc.errors)
            if "deadline" in exc.errors:
                flash(exc.errors["deadline"], "error")
            status = 422
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("campaigns.review_queue"), code=303)
    return render_template("campaigns/review.html", campaign=campaign,
                           story=render_markdown(campaign.story), history=campaign.transitions,
                           reject_form=reject_form, action_form=action_form,
                           panels=panels.panels_for(campaign, _user(), slots=("history",)),
                           can_review=can(_user(), Action.REVIEW_CAMPAIGN, campaign)), status


@bp.route("/<public_id>/updates/new", methods=["GET", "POST"])
def new_update(public_id: str):
    campaign = _campaign_or_404(public_id)
    if not can(_user(), Action.POST_CAMPAIGN_UPDATE, campaign):
        return _deny(campaign)
    form = UpdateForm()
    if form.validate_on_submit():
        try:
            update = services.post_update(campaign, _user(), form.title.data, form.body.data)
        except services.ValidationError as exc:
            _merge_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("The update is posted."), "success")
            return redirect(_canonical(campaign, _anchor=f"update-{update.id}"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("campaigns/update_form.html", form=form, campaign=campaign), status


@bp.route("/<public_id>/indicators", methods=["GET", "POST"])
def indicators_page(public_id: str):
    """The organizer declares outcome indicators (after publication: adds; before: also removes)."""
    campaign = _campaign_or_404(public_id)
    if not can(_user(), Action.EDIT_CAMPAIGN, campaign):
        return _deny(campaign)
    form = IndicatorForm()
    refused = None
    if form.validate_on_submit():
        try:
            indicators.add_indicator(campaign, _user(), form.to_input())
        except services.ValidationError as exc:
            db.session.rollback()
            _merge_errors(form, exc.errors)
        except indicators.IndicatorRefused as exc:
            db.session.rollback()
            refused = str(exc.message)
        else:
            db.session.commit()
            flash(_("The indicator is added."), "success")
            return redirect(url_for("campaigns.indicators_page", public_id=public_id), code=303)
    campaign = _campaign_or_404(public_id)
    status = 422 if form.is_submitted() else 200
    return render_template("campaigns/indicators.html", campaign=campaign, form=form, refused=refused,
                           remove_form=ActionForm()), status


@bp.post("/<public_id>/indicators/<int:indicator_id>/remove")
def remove_indicator(public_id: str, indicator_id: int):
    campaign = _campaign_or_404(public_id)
    if not can(_user(), Action.EDIT_CAMPAIGN, campaign):
        return _deny(campaign)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        indicators.remove_indicator(campaign, _user(), indicator_id)
    except indicators.IndicatorRefused as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("The indicator is removed."), "success")
    return redirect(url_for("campaigns.indicators_page", public_id=public_id), code=303)
