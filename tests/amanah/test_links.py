"""Links that leave the request come from configuration; redirects stay on this site."""
from __future__ import annotations

import re

import pytest

from accounts import passwords
from amanah import mail
from amanah.links import absolute_url, safe_next
from tests.factories import make_user


@pytest.mark.parametrize("target", ["/", "/campaigns?q=air", "/ledger/entries/3#proof"])
def test_paths_on_this_site_are_kept(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [None, "", "https://evil.test/", "//evil.test", "/\\evil.test",
                                    "evil", "/\r\nX-Injected: 1", "/a\tb", "/a\x7fb"])
def test_anything_else_is_refused(target):
    assert safe_next(target) is None


def test_absolute_urls_ignore_the_requests_host_and_scheme(app):
    app.config.update(SERVER_NAME="amanah.example.org", PREFERRED_URL_SCHEME="https")
    with app.test_request_context("/", base_url="http://evil.test"):
        assert absolute_url("main.about") == "https://amanah.example.org/about"
    with app.app_context():  # a background job has no request at all
        assert absolute_url("main.about") == "https://amanah.example.org/about"


def test_password_reset_mail_links_to_the_configured_site(app, client, smtp_server, fast_hashing):
    with app.app_context():
        make_user("budi@example.test", password_hash=passwords.hash_password("lima kata acak sekali"))
    app.config.update(SERVER_NAME="amanah.example.org", PREFERRED_URL_SCHEME="https")
    response = client.post("/account/password/forgot", data={"email": "budi@example.test"},
                           base_url="http://evil.test", headers={"Host": "evil.test"})
    assert response.status_code == 303
    mail.wait_for_background()
    [message] = smtp_server.messages
    links = re.findall(r"\S+://\S+", message.get_content())
    assert links and all(link.startswith("https://amanah.example.org/") for link in links)
    assert "evil.test" not in message.get_content()


def test_a_language_switch_returning_to_a_split_header_is_refused(client):
    response = client.post("/language", data={"lang": "en", "next": "/\r\nX-Injected: 1"})
    assert response.status_code == 400
    assert "X-Injected" not in response.headers
    assert "Set-Cookie" not in response.headers


def test_a_language_switch_to_another_site_goes_home(client):
    response = client.post("/language", data={"lang": "en", "next": "https://evil.test/"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/ledger?kind=donation", "/about"])
def test_the_language_switch_returns_to_the_page_under_a_mount_point(client, path):
    """Served under a mount point (a proxy's SCRIPT_NAME), the language form returns to the page
    there, not to the same path from the host's root (another site's, or nothing)."""
    base = "http://localhost/amanah/"
    page = client.get(path, base_url=base).get_data(as_text=True)
    [target] = re.findall(r'name="next" value="([^"]*)"', page)
    assert target == "/amanah" + path
    response = client.post("/language", data={"lang": "en", "next": target}, base_url=base)
    assert response.status_code == 303 and response.headers["Location"] == "/amanah" + path
