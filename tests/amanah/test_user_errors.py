"""amanah.errors.UserError: one base for errors the user can fix, naming their field, answered
400 when no view catches them; amanah.text: the one control-character rule."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from amanah import errors
from amanah.extensions import db
from amanah.text import CONTROL_CHARACTERS, has_control_characters, one_line
from amanah.transactions import after_commit


def test_one_class_each_under_user_error():
    from campaigns import lifecycle, search, services
    from donations import models as donation_models
    from ledger import queries
    from treasury import disbursements

    assert services.ValidationError is disbursements.ValidationError is errors.ValidationError
    assert search.FilterError is queries.FilterError is errors.FilterError
    assert lifecycle.IllegalTransition is donation_models.IllegalTransition is errors.IllegalTransition
    for cls in (errors.ValidationError, errors.FilterError, errors.IllegalTransition):
        assert issubclass(cls, errors.UserError)
    assert not hasattr(donation_models, "IllegalDonationTransition")


def test_a_refused_refund_is_a_user_error():
    from donations import giving
    exc = giving.RefundRefused("Give a reason for the refund.", field="reason")
    assert isinstance(exc, errors.UserError)
    assert (exc.field, str(exc)) == ("reason", "Give a reason for the refund.")


def test_validation_error_keeps_every_field_and_names_the_first():
    exc = errors.ValidationError({"title": "Too short.", "goal": "Too small."})
    assert exc.errors == {"title": "Too short.", "goal": "Too small."}
    assert (exc.field, exc.message) == ("title", "Too short.")
    assert str(exc) == "title: Too short., goal: Too small."


def test_filter_error_names_its_parameter():
    exc = errors.FilterError("page", "Not a number.")
    assert (exc.field, exc.message, str(exc)) == ("page", "Not a number.", "Not a number.")


def test_a_campaign_transition_names_both_states():
    from campaigns.lifecycle import Status, Transition, target_of
    with pytest.raises(errors.IllegalTransition, match="cannot publish a campaign that is draft") as caught:
        target_of(Transition.PUBLISH, Status.DRAFT)
    exc = caught.value
    assert (exc.transition, exc.current, exc.field) == ("publish", "draft", "status")


def test_a_donation_transition_names_both_states(app):
    from donations.models import Donation, DonationStatus
    donation = Donation(status=DonationStatus.PAID.value)
    with pytest.raises(errors.IllegalTransition, match="donation cannot go from paid to pending") as caught:
        donation.move_to(DonationStatus.PENDING)
    assert (caught.value.current, caught.value.target) == ("paid", "pending")
    assert donation.status == "paid"


@pytest.fixture
def failing_app(app):
    @app.get("/api/test-user-error")
    @app.get("/test-user-error")
    def raise_user_error():
        after_commit(lambda: pytest.fail("the request's transaction must not commit"))
        raise errors.FilterError("from", _l("Enter the date as YYYY-MM-DD, e.g. 2026-01-31."))

    return app


@pytest.mark.own_app  # failing_app adds routes
def test_an_uncaught_user_error_is_a_json_400_naming_the_field(failing_app, caplog):
    response = failing_app.test_client().get("/api/test-user-error", headers={"Accept-Language": "en"})
    assert "FilterError not caught on GET /api/test-user-error" in caplog.text  # a view forgot it
    assert response.status_code == 400
    assert response.json == {"error": "Enter the date as YYYY-MM-DD, e.g. 2026-01-31.", "field": "from"}
    with failing_app.app_context():
        db.session.commit()  # the request's callbacks went with its transaction


@pytest.mark.own_app  # failing_app adds routes
def test_the_message_is_in_the_language_of_the_request(failing_app):
    response = failing_app.test_client().get("/api/test-user-error", headers={"Accept-Language": "id"})
    assert response.json["error"] == "Masukkan tanggal dengan format YYYY-MM-DD, mis. 2026-01-31."


@pytest.mark.own_app  # failing_app adds routes
def test_an_uncaught_user_error_on_a_page_is_an_html_400(failing_app):
    response = failing_app.test_client().get("/test-user-error", headers={"Accept-Language": "en"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Enter the date as YYYY-MM-DD" in response.get_data(as_text=True)


def test_filter_errors_answer_as_before(client):
    api = client.get("/api/v1/campaigns?sort=nonsense")
    assert api.status_code == 400 and api.json["field"] == "sort" and set(api.json) == {"error", "field"}
    ledger = client.get("/api/v1/ledger/entries?from=yesterday")
    assert ledger.status_code == 400
    assert ledger.json["field"] == "from" and set(ledger.json) == {"error", "field"}
    page = client.get("/campaigns/?sort=nonsense", headers={"Accept": "application/json"})
    assert page.status_code == 400 and page.json["error"].startswith("sort: ")


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "tab\x0bvertical", "\x1b[31m", "del\x7f"])
def test_control_characters_are_found(text):
    assert has_control_characters(text)


@pytest.mark.parametrize("text", ["Air bersih", "two\nlines\r\n", "tab\there", "Ṣari — ✓", "\u200b"])
def test_ordinary_text_passes(text):
    assert not has_control_characters(text)
    assert CONTROL_CHARACTERS.search(text) is None


def test_one_line():
    assert one_line("  Beli\n semen \t dan  pasir ") == "Beli semen dan pasir"
    assert one_line(None) == one_line("") == ""


@pytest.fixture
def unreachable_database_app(app):
    """Routes that meet what a PostgreSQL restart gives a request: the server refusing connections."""
    def refused():
        engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:9/amanah", pool_pre_ping=False)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()

    app.add_url_rule("/api/test-database-down", "api_database_down", refused)
    app.add_url_rule("/test-database-down", "database_down", refused, methods=["GET", "POST"])
    return app


@pytest.mark.own_app  # adds routes
def test_a_database_that_cannot_be_reached_is_a_503_to_retry_not_a_500(unreachable_database_app, caplog):
    client = unreachable_database_app.test_client()
    page = client.get("/test-database-down", headers={"Accept-Language": "en"})
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "briefly unavailable" in page.get_data(as_text=True)
    api = client.get("/api/test-database-down", headers={"Accept-Language": "en"})
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert api.json == {"error": "The service is briefly unavailable. Please try again in a few seconds."}
    assert "database unavailable on GET /test-database-down" in caplog.text
    assert "unhandled error" not in caplog.text


@pytest.mark.own_app  # adds routes
def test_a_signed_in_visitor_gets_the_503_too_when_their_account_cannot_be_loaded(unreachable_database_app,
                                                                                  monkeypatch, caplog):
    """A PostgreSQL restart met first by Flask-Login's user loader: the 503 page must not ask for the
    user again (to choose its language) and fail with a 500, as the fault drill found."""
    from amanah.extensions import login_manager
    endpoint = unreachable_database_app.view_functions["database_down"]

    def load_user(_session_id):
        endpoint()  # raises what a refused connection raises

    monkeypatch.setattr(login_manager, "_user_callback", load_user)
    client = unreachable_database_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = "1:0", True
    for path in ("/test-database-down", "/api/test-database-down", "/donations/mine"):
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 503 and response.headers["Retry-After"] == "5", path
        assert "briefly unavailable" in response.get_data(as_text=True)
    assert "unhandled error" not in caplog.text and "Exception on" not in caplog.text


def test_a_connection_lost_after_the_answer_was_made_leaves_the_answer_alone(backend, fresh_database_url,
                                                                            tmp_path, caplog):
    """PostgreSQL restarted between a view's last query and the end of the request: the session's
    rollback at teardown meets a closed connection. The page was made; it is sent (the fault drill
    saw this as a 500)."""
    if backend != "postgresql":
        pytest.skip("a server that closes the connection: PostgreSQL")
    from tests.conftest import make_app
    app = make_app(fresh_database_url, tmp_path)

    def served_then_cut():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()  # a transaction is open
        killer = sa.create_engine(fresh_database_url)
        with killer.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        return "made"

    app.add_url_rule("/test-served-then-cut", "served_then_cut", served_then_cut)
    try:
        response = app.test_client().get("/test-served-then-cut")
        assert (response.status_code, response.get_data(as_text=True)) == (200, "made")
        assert "database connection lost after the answer was made" in caplog.text
        assert app.test_client().get("/test-served-then-cut").status_code == 200  # the pool recovered
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.own_app  # adds routes
def test_a_signed_in_visitor_whose_account_cannot_be_read_back_gets_the_503(unreachable_database_app,
                                                                            caplog):
    """The visitor was loaded, then the database went away: the 503's rollback expires their
    account, and choosing the page's language reads it back. The answer is made without them."""
    from tests.factories import login, make_user
    down = []

    def refuse_while_down(*_args):
        if down:
            raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))

    def loaded_then_lost():
        assert current_user.is_authenticated  # loaded while the database was there
        down.append(True)
        db.session.execute(sa.text("SELECT 1"))

    unreachable_database_app.add_url_rule("/test-user-then-down", "user_then_down", loaded_then_lost)
    client = unreachable_database_app.test_client()
    with unreachable_database_app.app_context():
        login(client, make_user())
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", refuse_while_down)
    try:
        response = client.get("/test-user-then-down", headers={"Accept-Language": "en"})
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", refuse_while_down)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.get_data(as_text=True)
    assert "unhandled error" not in caplog.text
