"""The map of Indonesia, "nearest to me", and organizations' service points. Thin views."""
from __future__ import annotations

import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from accounts.permissions import Action, permission_required
from amanah.errors import UserError, ValidationError, error_response, wants_json
from amanah.extensions import db
from campaigns import categories, page_cache
from campaigns.services import today_wib
from ledger import queries
from maps import boundaries, forms, geo, nearest, page, params, services
from organizations import services as organizations

bp = Blueprint("maps", __name__)
INVALID = 422
MAP_CACHE_SECONDS = 300
VERSION_SECONDS = 1.0
_VERSION_KEY = "maps.version"


def _version() -> tuple:
    """What the map pages show depends on: the ledger's size (money), the campaigns' last change,
    the service points' last change and the day (deadlines). It says all they show, so a page is
    kept MAP_CACHE_SECONDS; the version itself is read at most once a VERSION_SECONDS per process
    (three small queries saved on nearly every request), so a change shows within that time."""
    now = time.monotonic()
    known = current_app.extensions.get(_VERSION_KEY)
    if known is None or now - known[0] >= VERSION_SECONDS:
        known = (now, (queries.head().size, queries.names_version(), services.points_version(), today_wib()))
        current_app.extensions[_VERSION_KEY] = known
    return known[1]


def _bad(exc: UserError):
    return error_response(400, f"{exc.field}: {exc.message}", field=exc.field)


@bp.get("/map")
def index():
    try:
        chosen = params.parse_map(request.args)
    except UserError as exc:
        return _bad(exc)
    return page_cache.cached(_version(), lambda: render_template("maps/map.html", **page.map_context(chosen)),
                             seconds=MAP_CACHE_SECONDS)


@bp.get("/map/nearest")
def near():
    try:
        asked = params.parse_near(request.args)
    except UserError as exc:
        return _bad(exc)
    town = None
    if asked.lat is None and asked.place:
        matches = geo.find_towns(asked.place)
        if not matches:  # refused like any bad filter: 400, the form saying which field and why
            if wants_json():
                return error_response(400, f"place: {_('Unknown town.')}", field="place")
            return _may_locate(make_response(
                render_template("maps/nearest.html", unknown_place=True, **_near_context(asked)), 400))
        town = matches[0]
    # A point or campaign added or changed, or a day passed (deadlines): the page shows it at once.
    return _may_locate(make_response(page_cache.cached(_version(), lambda: _near_page(asked, town),
                                                       seconds=MAP_CACHE_SECONDS)))


def _may_locate(response):
    """This page alone may ask the browser for its position (the site's policy refuses it elsewhere:
    amanah/security.py), and only for our own script."""
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(self), payment=()"
    return response


def _near_context(asked: params.NearParams) -> dict:
    return {"asked": asked, "categories": categories.choices(), "towns": geo.towns()}


def _near_page(asked: params.NearParams, town: geo.Town | None) -> str:
    context = _near_context(asked)
    lat, lon = (town.lat, town.lon) if town else (asked.lat, asked.lon)
    if lat is not None:
        points, _read = nearest.nearest_points(lat, lon, asked.category)
        found_campaigns, _read = nearest.nearest_campaigns(lat, lon, asked.category)
        context.update(points=points, campaigns=found_campaigns, town=town, lat=lat, lon=lon)
    return render_template("maps/nearest.html", **context)


# ---- an organization's service points ----

def _org(slug: str, **_ignored):
    return organizations.get_by_slug(slug)


def _point(slug: str, point_id: int):
    point = services.point_of(_org(slug), point_id)
    if point is None:
        abort(404)  # another organization's point is none of this one's
    return point


def _attach(form, errors: dict[str, str]):
    for name, message in errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
    return form


def _form_page(org, form, point=None, status=200):
    return render_template("maps/point_form.html", org=org, form=form, point=point,
                           width=boundaries.width(), height=boundaries.height(),
                           outlines=boundaries.drawn(), projection=boundaries.projection()), status


@bp.get("/organizations/<slug>/service-points")
@permission_required(Action.MANAGE_SERVICE_POINTS, _org)
def points(slug: str):
    org = _org(slug)
    return render_template("maps/points.html", org=org, points=services.points_of(org),
                           delete_form=FlaskForm())


@bp.route("/organizations/<slug>/service-points/new", methods=["GET", "POST"])
@permission_required(Action.MANAGE_SERVICE_POINTS, _org)
def create(slug: str):
    org = _org(slug)
    form = forms.ServicePointForm(funding=services.funding_choices(org))
    if request.method == "POST":
        if not form.validate_on_submit():
            return _form_page(org, form, status=400 if "csrf_token" in form.errors else INVALID)
        try:
            services.create_point(org, form.to_input())
        except ValidationError as exc:
            db.session.rollback()
            return _form_page(_org(slug), _attach(form, exc.errors), status=INVALID)
        db.session.commit()
        flash(_("The service point is on the map."), "success")
        return redirect(url_for("maps.points", slug=slug), code=303)
    return _form_page(org, form)


@bp.route("/organizations/<slug>/service-points/<int:point_id>/edit", methods=["GET", "POST"])
@permission_required(Action.MANAGE_SERVICE_POINTS, _org)
def edit(slug: str, point_id: int):
    point = _point(slug, point_id)
    org = point.organization
    funding = services.funding_choices(org)
    if request.method == "GET":
        form = forms.ServicePointForm(obj=point, formdata=None, funding=funding,
                                      latitude=f"{point.latitude:.6f}", longitude=f"{point.longitude:.6f}",
                                      campaigns=[c.id for c in point.campaigns])
        return _form_page(org, form, point)
    form = forms.ServicePointForm(funding=funding)
    if not form.validate_on_submit():
        return _form_page(org, form, point, status=400 if "csrf_token" in form.errors else INVALID)
    try:
        services.update_point(point, form.to_input())
    except ValidationError as exc:
        db.session.rollback()
        return _form_page(_org(slug), _attach(form, exc.errors), _point(slug, point_id), status=INVALID)
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("maps.points", slug=slug), code=303)


@bp.post("/organizations/<slug>/service-points/<int:point_id>/delete")
@permission_required(Action.MANAGE_SERVICE_POINTS, _org)
def delete(slug: str, point_id: int):
    point = _point(slug, point_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    services.delete_point(point)
    db.session.commit()
    flash(_("The service point is removed from the map."), "success")
    return redirect(url_for("maps.points", slug=slug), code=303)
