"""Errors the user can fix, and error pages: HTML for people, JSON for API and ledger clients.

`UserError` is the base of every error whose message is meant for the user and that names the
input at fault (`field`). Views catch the ones they expect and show them beside the form field;
one that reaches the app is answered 400, as JSON naming the field for API and JSON clients.
"""
from __future__ import annotations

import contextlib

import sqlalchemy as sa
from flask import Response, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from amanah.extensions import db, login_manager
from amanah.storage import StorageUnavailable

TITLES = {
    400: _l("Bad request"),
    403: _l("Forbidden"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    415: _l("Unsupported content type"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("Briefly unavailable"),
}
RETRY_AFTER_SECONDS = 5


class UserError(Exception):
    """Bad input the user can correct. `message` is for the user (a lazy translation is rendered in
    the locale of the moment it is shown); `field` names the input at fault, when there is one."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(UserError):
    """Bad form input: `errors` maps each field to a message meant for the user."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()), (None, ""))
        super().__init__(message, field)
        self.errors = errors
        self.args = (", ".join(f"{k}: {v}" for k, v in errors.items()),)


class FilterError(UserError):
    """A query parameter (a search filter, a cursor) that cannot be used; `field` names it."""

    def __init__(self, field: str, message):
        super().__init__(str(message), field)


class IllegalTransition(UserError):
    """A status change that is not allowed from the current status. The message names both; it is
    for logs and tests, and views say something kinder."""

    def __init__(self, message: str, *, current, transition=None, target=None):
        super().__init__(message, "status")
        self.current = str(current)
        self.transition = None if transition is None else str(transition)
        self.target = None if target is None else str(target)


def wants_json() -> bool:
    # Machine files (/data/aggregates.json, /ledger/export.csv...) answer their clients in JSON too.
    if request.path.startswith(("/api/", "/webhooks/")) or request.path.endswith((".json", ".csv")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    accepted = request.accept_mimetypes
    return best == "application/json" and accepted[best] > accepted["text/html"]


def error_response(status: int, message: str, field: str | None = None):
    if wants_json():
        body = {"error": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    return render_template("errors/generic.html", status=status, title=str(TITLES.get(status, _l("Error"))),
                           message=message), status


def init_app(app) -> None:
    @app.errorhandler(UserError)
    def user_error(exc: UserError):
        # Normally caught by the view and shown as a form error; this is the answer of last resort,
        # with nothing of the request's transaction kept.
        db.session.rollback()
        app.logger.warning("%s not caught on %s %s: %s", type(exc).__name__, request.method,
                           request.path, exc)
        return error_response(400, str(exc.message), field=exc.field)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, _("The form expired or was not sent from this site. "
                                     "Please reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.response is not None:
            return exc.response
        messages = {
            400: _("The request could not be understood. Go back, reload the page and try again."),
            403: _("You do not have permission to see this page."),
            404: _("We could not find that page."),
            405: _("This address does not accept that kind of request."),
            409: _("This was done already, or changed in the meantime. Reload the page to see where "
                   "things stand."),
            413: _("The upload is larger than allowed."),
            429: _("Too many attempts. Please wait a moment and try again."),
            500: _("An unexpected error happened. It has been logged; please try again later."),
        }
        # Never Werkzeug's description or status name: they are English only ("The browser (or
        # proxy) sent a request that this server could not understand."). A view with something
        # specific to say raises a UserError or calls error_response with a translated message.
        message = messages.get(exc.code) or _("The request could not be completed.")
        return error_response(exc.code, message)

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    def database_unavailable(exc):
        """The database cannot be reached (restarting, a dropped connection, SQLite busy): not a bug
        of the request, and over in seconds. 503 with Retry-After, so clients and Stripe try again."""
        return briefly_unavailable("database", str(exc.orig if getattr(exc, "orig", None) is not None
                                                   else exc).splitlines()[0])

    @app.teardown_appcontext
    def close_session(_exc=None):
        """The answer is made; its connection may have been closed under it since (a database
        restarted between the view's last query and now). Closing the session then rolls back on
        a dead connection: that must not turn a finished answer into a 500. (Registered after
        Flask-SQLAlchemy's own teardown, so it runs first; that one then finds the session closed.)"""
        try:
            db.session.close()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            # Only a connection that is gone: any other error closing the session (a savepoint
            # that does not exist, say) is a bug to see, not a lost connection to drop quietly.
            if not getattr(exc, "connection_invalidated", False):
                raise
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                db.session().invalidate()
            app.logger.warning("database connection lost after the answer was made: %s",
                               str(getattr(exc, "orig", None) or exc).splitlines()[0])

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(exc):
        """The file store (the bucket) cannot be reached or refuses us: the request's rows are
        thrown away, so none names a file that was not stored. 503 with Retry-After."""
        return briefly_unavailable("file storage", str(exc).splitlines()[0])

    def unavailable_page():
        message = _("The service is briefly unavailable. Please try again in a few seconds.")
        try:
            return error_response(503, message)
        except sa.exc.SQLAlchemyError:  # the page itself needs the database (the signed-in user)
            return Response(str(message), mimetype="text/plain"), 503

    def briefly_unavailable(what: str, detail: str):
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            db.session.rollback()
        if "_login_user" not in g:
            # The signed-in user could not be loaded (that may be what failed): the answer is made
            # without them, or choosing its language would ask the database again and fail (a 500).
            g._login_user = login_manager.anonymous_user()
        app.logger.warning("%s unavailable on %s %s: %s", what, request.method, request.path, detail)
        try:
            response, status = unavailable_page()
        except sa.exc.SQLAlchemyError:
            # Choosing the page's language read the signed-in user back (the rollback above expired
            # them) from a database that is not there: the answer is made without them.
            g._login_user = login_manager.anonymous_user()
            response, status = unavailable_page()
        response = make_response(response, status)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc):
        # Nothing half-written: the failed request's transaction is thrown away before rendering.
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, _("An unexpected error happened. It has been logged; "
                                     "please try again later."))
