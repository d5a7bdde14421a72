"""Pages that belong to no single domain: home, language switch, health."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from amanah.errors import error_response
from amanah.extensions import csrf
from amanah.i18n import LOCALE_COOKIE
from amanah.links import safe_next

bp = Blueprint("main", __name__)

@bp.get("/")
def home():
    return render_template("main/home.html")


@bp.get("/about")
def about():
    return render_template("main/about.html")


def sent_from_this_site() -> bool:
    """False when the browser says the form was sent from another site (or an opaque origin).

    Browsers name the origin of every cross-site POST (Origin; Referer too, under our
    Referrer-Policy), so a forged cross-site request always carries a foreign one. A request with
    neither header did not come from another site's page, so it is let through."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return True
    if source == "null":
        return False
    # This host as the browser sees it: the Host header, or SERVER_NAME (required in production)
    # when a proxy in front rewrites Host.
    ours = {request.host.lower(), (current_app.config.get("SERVER_NAME") or "").lower()}
    return urlsplit(source).netloc.lower() in ours - {""}


@bp.post("/language")
@csrf.exempt
def set_language():
    # Changing a preference is a state change, so this POST is protected against cross-site
    # requests too, but by the Origin check rather than a token: the language form sits in the frame
    # of public pages that are shared by every anonymous visitor (amanah.frame) and may be kept by
    # shared caches, so it cannot carry one visitor's token, and those pages set no cookie.
    if not sent_from_this_site():
        return error_response(400, _("The language can only be changed from this site's own pages."))
    lang = request.form.get("lang", "")
    target = request.form.get("next") or url_for("main.home")
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return error_response(400, _("The page to return to is not a valid address."))
    target = safe_next(target) or url_for("main.home")  # never an open redirect
    response = redirect(target, code=303)
    if lang in current_app.config["LANGUAGES"]:
        session[LOCALE_COOKIE] = lang
        response.set_cookie(LOCALE_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
