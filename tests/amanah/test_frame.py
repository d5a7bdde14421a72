"""The shared site frame (amanah.frame): byte for byte what a full render gives, and never shared
where it must not be (signed-in visitors, flashed messages)."""
import pytest
from flask import render_template
from flask_babel import force_locale
from markupsafe import Markup

from amanah.extensions import db
from amanah.frame import render_framed
from tests.factories import login, make_user
from tests.factories.ledger import add, html

PATHS = ["/ledger", "/ledger?kind=donation&q=%3Ca%3E%22%26", "/ledger/entries/0", "/ledger/verify",
         "/ledger/campaigns/camp00000001"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("locale", ["id", "en"])
def test_shared_frame_equals_the_full_rendering(app, path, locale):
    title = 'A <title> & "quotes"'
    content = Markup("<p>the page's own content</p>")
    with app.test_request_context(path), force_locale(locale):
        first = render_framed("ledger/page.html", title=title, content=content)
        again = render_framed("ledger/page.html", title=title, content=content)  # from the stored frame
        full = render_template("ledger/page.html", title=title, content=content)
    assert first == again == full
    assert f'lang="{locale}"' in full and "A &lt;title&gt; &amp; &#34;quotes&#34;" in full
    assert "\x00" not in full


def test_frames_differ_by_endpoint_and_locale(app):
    with app.test_request_context("/ledger"), force_locale("en"):
        ledger_en = render_framed("ledger/page.html", title="t", content=Markup(""))
    with app.test_request_context("/ledger"), force_locale("id"):
        ledger_id = render_framed("ledger/page.html", title="t", content=Markup(""))
    with app.test_request_context("/about"), force_locale("en"):
        about_en = render_framed("ledger/page.html", title="t", content=Markup(""))
    assert 'lang="en"' in ledger_en and 'lang="id"' in ledger_id
    assert ledger_en != about_en
    assert 'href="/about" aria-current="page"' in about_en
    assert 'href="/about" aria-current="page"' not in ledger_en


def test_public_pages_hold_nothing_of_the_visitor_and_the_language_form_works(databases, tmp_path):
    """Anonymous visitors get no session cookie and no token from a ledger page (shared caches may
    keep it); the language form in it still works, from this site only."""
    from tests.conftest import make_app
    app = make_app(databases.url, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    one, other = app.test_client(), app.test_client()
    first = one.get("/ledger?kind=donation")
    second = other.get("/ledger/verify")
    for response in (first, second):
        assert response.headers.getlist("Set-Cookie") == []
        assert "csrf_token" not in html(response)
    assert 'name="next" value="/ledger?kind=donation"' in html(first)
    assert 'name="next" value="/ledger/verify"' in html(second)
    response = one.post("/language", data={"lang": "en", "next": "/ledger?kind=donation"},
                        headers={"Origin": "http://localhost"})
    assert response.status_code == 303 and response.location.endswith("/ledger?kind=donation")
    assert 'lang="en"' in html(one.get("/ledger?kind=donation"))
    assert 'lang="id"' in html(other.get("/ledger/verify"))
    refused = other.post("/language", data={"lang": "en"}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 400
    with app.app_context():
        db.engine.dispose()


def test_signed_in_visitor_gets_their_own_frame(client, app):
    with app.app_context():
        add()
        user = make_user(name="Rahmat Hidayat")
        anonymous = app.test_client()
        anonymous.get("/ledger")  # the anonymous frame is stored first
        login(client, user)
    mine = html(client.get("/ledger"))
    assert "Rahmat Hidayat" in mine and "/account/logout" in mine
    theirs = html(anonymous.get("/ledger"))
    assert "Rahmat Hidayat" not in theirs and "/account/login" in theirs


def test_flashed_messages_are_shown_and_not_stored(client, app):
    with app.app_context():
        add()
    client.get("/ledger")
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Flash for this visitor only")]
    assert "Flash for this visitor only" in html(client.get("/ledger"))
    assert "Flash for this visitor only" not in html(client.get("/ledger"))
    assert "Flash for this visitor only" not in html(app.test_client().get("/ledger"))
    with app.app_context():
        db.session.remove()


def test_frames_and_cached_content_never_cross_script_roots_or_hosts(client, app):
    """A proxy may set the mount point per request (SCRIPT_NAME) and clients choose the Host: a
    frame or page content built for one is never served for another."""
    with app.app_context():
        add()
    mounted = html(client.get("/ledger", base_url="http://localhost/mounted/"))
    assert 'href="/mounted/static/css/app.css' in mounted
    plain = html(app.test_client().get("/ledger"))
    assert "/mounted/" not in plain and 'href="/static/css/app.css' in plain
    html(client.get("/ledger/verify", base_url="http://evil.example/"))
    guide = html(app.test_client().get("/ledger/verify"))
    assert "evil.example" not in guide
