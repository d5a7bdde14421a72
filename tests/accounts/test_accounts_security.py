"""Account pages with the protections the shared fixtures switch off: rate limits and CSRF tokens."""
from __future__ import annotations

import re

import pytest

from tests.conftest import make_app, one_rolled_back_transaction

EN = {"Accept-Language": "en"}


@pytest.fixture
def limited_app(databases, tmp_path):
    # The shared fixtures switch rate limiting off; these tests need it on, with fresh counters.
    app = make_app(databases.url, tmp_path / "limited", RATELIMIT_ENABLED=True,
                   ARGON2_PARAMETERS={"time_cost": 1, "memory_cost": 8, "parallelism": 1})
    with one_rolled_back_transaction(app):
        yield app


def test_login_is_throttled_with_a_friendly_page(limited_app):
    client = limited_app.test_client()
    for attempt in range(10):
        response = client.post("/account/login", data={"email": f"x{attempt}@example.test", "password": "x"})
        assert response.status_code == 422
    response = client.post("/account/login", data={"email": "x@example.test", "password": "x"})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Terlalu banyak percobaan. Mohon tunggu sebentar lalu coba lagi." in html
    assert '<html lang="id">' in html
    assert client.get("/account/login").status_code == 200  # reading the page is not limited
    other_address = limited_app.test_client()
    response = other_address.post("/account/login", data={"email": "y@example.test", "password": "x"},
                                  environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 422  # the limit is per address, not global


def test_one_account_is_throttled_from_many_addresses(limited_app):
    for attempt in range(20):
        response = limited_app.test_client().post(
            "/account/login", data={"email": "target@example.test", "password": f"guess {attempt}"},
            environ_base={"REMOTE_ADDR": f"10.0.1.{attempt + 1}"})
        assert response.status_code == 422
    response = limited_app.test_client().post(
        "/account/login", data={"email": "TARGET@example.test", "password": "guess"},
        environ_base={"REMOTE_ADDR": "10.0.1.200"})
    assert response.status_code == 429


def test_reset_requests_are_throttled_per_address(limited_app):
    for attempt in range(5):
        response = limited_app.test_client().post(
            "/account/password/forgot", data={"email": "siti@example.test"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{attempt + 1}"})
        assert response.status_code == 303
    response = limited_app.test_client().post(
        "/account/password/forgot", data={"email": "SITI@example.test"}, headers=EN,
        environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert response.status_code == 429
    assert "Too many attempts. Please wait a moment and try again." in response.get_data(as_text=True)


@pytest.fixture
def csrf_app(databases, tmp_path):
    app = make_app(databases.url, tmp_path / "csrf", WTF_CSRF_ENABLED=True,
                   ARGON2_PARAMETERS={"time_cost": 1, "memory_cost": 8, "parallelism": 1})
    with one_rolled_back_transaction(app):
        yield app


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_account_forms_carry_and_require_a_csrf_token(csrf_app):
    client = csrf_app.test_client()
    # The test client speaks https (PREFERRED_URL_SCHEME), where Flask-WTF also wants a same-site Referer.
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    form = {"display_name": "Siti", "email": "siti@example.test", "password": "lima kata acak sekali",
            "confirm": "lima kata acak sekali"}
    assert client.post("/account/register", data=form).status_code == 400
    token = csrf_token(client.get("/account/register").get_data(as_text=True))
    response = client.post("/account/register", data={**form, "csrf_token": token})
    assert response.status_code == 303
    # Signed in, the header has a sign-out form with its own token; without one nobody is signed out.
    page = client.get("/account/profile").get_data(as_text=True)
    assert client.post("/account/logout").status_code == 400
    assert client.get("/account/profile").status_code == 200
    logout_token = re.search(r'action="/account/logout">\s*<input type="hidden" name="csrf_token" '
                             r'value="([^"]+)"', page).group(1)
    assert client.post("/account/logout", data={"csrf_token": logout_token}).status_code == 303
    assert client.get("/account/profile").status_code == 302
