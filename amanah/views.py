"""Pages that belong to no single domain: home, language switch, health."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from amanah.i18n import LOCALE_COOKIE

bp = Blueprint("main", __name__)

@bp.get("/")
def home():
    return render_template("main/home.html")


@bp.get("/about")
def about():
    return render_template("main/about.html")


@bp.post("/language")
def set_language():
    # CSRFProtect guards this POST like every other: changing a preference is a state change.
    lang = request.form.get("lang", "")
    target = request.form.get("next") or url_for("main.home")
    if urlsplit(target).netloc or not target.startswith("/"):
        target = url_for("main.home")  # never an open redirect
    response = redirect(target, code=303)
    if lang in current_app.config["LANGUAGES"]:
        session[LOCALE_COOKIE] = lang
        response.set_cookie(LOCALE_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
