import os
import re
import stat

import pytest

from amanah import create_app
from amanah.config import ConfigError, load_config, normalize_database_url
from amanah.extensions import db


def test_home_page_says_what_amanah_is_in_indonesian_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Berdonasi dengan amanah" in html
    assert "Layanan sosial" in html


def test_accept_language_chooses_english(client):
    html = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Give in trust. See every rupiah." in html


def test_language_switch_is_remembered(client):
    response = client.post("/language", data={"lang": "en", "next": "/about"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/about"
    html = client.get("/about").get_data(as_text=True)
    assert '<html lang="en">' in html and "About Amanah" in html
    client.post("/language", data={"lang": "id", "next": "/"})
    assert "Tentang Amanah" in client.get("/about", headers={"Accept-Language": "en"}).get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.headers["Location"] == "/"


def test_unknown_language_is_ignored(client):
    client.post("/language", data={"lang": "xx", "next": "/"})
    assert '<html lang="id">' in client.get("/").get_data(as_text=True)


def test_security_headers(client):
    headers = client.get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_load_nothing_from_other_origins(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    with client.get("/static/css/app.css") as css:
        assert css.status_code == 200 and "url(http" not in css.get_data(as_text=True)


def test_not_found_page_html_and_json(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Halaman itu tidak kami temukan." in response.get_data(as_text=True)
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]


def test_unexpected_error_is_a_friendly_500(databases, tmp_path):
    from tests.conftest import make_app

    app = make_app(databases.url, tmp_path / "i")

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = app.test_client().get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "An unexpected error happened" in html and "kaboom" not in html


def test_csrf_is_enforced_on_forms(databases, tmp_path):
    from tests.conftest import make_app

    app = make_app(databases.url, tmp_path / "i", WTF_CSRF_ENABLED=True)
    client = app.test_client()
    form = {"email": "nobody@example.test", "password": "not the password"}
    response = client.post("/account/login", data=form)
    assert response.status_code == 400
    assert "Formulir sudah kedaluwarsa" in response.get_data(as_text=True)
    html = client.get("/account/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post("/account/login", data={**form, "csrf_token": token},
                           headers={"Referer": "https://localhost/"})
    assert response.status_code == 422  # past the token check: the form answers (wrong password)
    assert "Formulir sudah kedaluwarsa" not in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("headers, allowed", [
    ({"Origin": "http://localhost"}, True),
    ({"Referer": "http://localhost/ledger?kind=donation"}, True),
    ({}, True),  # no browser sends a cross-site form without naming its origin
    ({"Origin": "https://evil.example"}, False),
    ({"Origin": "null"}, False),  # sandboxed or opaque origins
    ({"Referer": "https://evil.example/page"}, False),
    ({"Origin": "https://evil.example", "Referer": "http://localhost/"}, False),
    ({"Origin": "http://localhost.evil.example"}, False),
    ({"Origin": "http://LOCALHOST"}, True),  # host names are case-insensitive
])
def test_language_switch_is_refused_from_other_sites(databases, tmp_path, headers, allowed):
    from tests.conftest import make_app

    app = make_app(databases.url, tmp_path / "i", WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/language", data={"lang": "en", "next": "/about"}, headers=headers)
    if allowed:
        assert response.status_code == 303
        assert 'lang="en"' in client.get("/about").get_data(as_text=True)
    else:
        assert response.status_code == 400
        assert "hanya dapat diubah dari halaman situs ini" in response.get_data(as_text=True)
        assert not any(c.startswith("lang=") for c in response.headers.getlist("Set-Cookie"))
        assert 'lang="id"' in client.get("/about").get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    client = app.test_client()
    response = client.post("/language", data={"lang": "en"})
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


# What production needs besides secrets: the issuer every document names.
PRODUCTION_ORGANIZATION = {"ORG_NAME": "Yayasan Contoh", "ORG_ADDRESS": "Jl. Contoh 1, Jakarta",
                           "ORG_REGISTRATION_NO": "AHU-1.AH.01.04.Tahun 2020", "ORG_NPWP": "012345678901000"}
# The document signing key (load_config does not open it; create_app does).
PRODUCTION_SIGNING = {"DOCUMENT_SIGNING_P12": "/etc/amanah/signing.p12", "DOCUMENT_SIGNING_PASSWORD": "p"}


def test_production_refuses_missing_secrets_and_names_them(tmp_path, monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                 "LEDGER_SIGNING_KEY", "LEDGER_ORIGIN", "MAIL_SERVER", "SERVER_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMANAH_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    with pytest.raises(ConfigError) as excinfo:
        create_app({"INSTANCE_PATH": str(tmp_path)})
    missing = str(excinfo.value).split("missing: ", 1)[1].split(", ")
    assert "STRIPE_WEBHOOK_SECRET" in missing and "DATABASE_URL" in missing
    assert "SECRET_KEY" not in missing


def test_production_config_is_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("AMANAH_ENV", "production")
    env = {"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgres://u@h/db", "STRIPE_SECRET_KEY": "sk",
           "STRIPE_WEBHOOK_SECRET": "wh", "LEDGER_SIGNING_KEY": "k", "LEDGER_ORIGIN": "o",
           "MAIL_SERVER": "m", "SERVER_NAME": "amanah.example", **PRODUCTION_ORGANIZATION,
           **PRODUCTION_SIGNING}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_production_refuses_a_short_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("AMANAH_ENV", "production")
    env = {"SECRET_KEY": "s" * 31, "DATABASE_URL": "postgres://u@h/db", "STRIPE_SECRET_KEY": "sk",
           "STRIPE_WEBHOOK_SECRET": "wh", "LEDGER_SIGNING_KEY": "k", "LEDGER_ORIGIN": "o",
           "MAIL_SERVER": "m", "SERVER_NAME": "amanah.example", **PRODUCTION_ORGANIZATION,
           **PRODUCTION_SIGNING}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="SECRET_KEY must have at least 32 characters"):
        load_config(tmp_path)
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    assert load_config(tmp_path)["SECRET_KEY"] == "s" * 32


def test_proxy_hops_must_be_a_count(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXY_HOPS", "one")
    with pytest.raises(ConfigError, match="PROXY_HOPS"):
        load_config(tmp_path)
    monkeypatch.setenv("PROXY_HOPS", "2")
    assert load_config(tmp_path)["PROXY_HOPS"] == 2
    monkeypatch.delenv("PROXY_HOPS")
    assert load_config(tmp_path)["PROXY_HOPS"] == 0


@pytest.mark.parametrize("hops", [0, 1])
def test_forwarded_headers_are_believed_only_from_configured_proxies(tmp_path, hops):
    """Behind a proxy every request comes from the proxy's address: with PROXY_HOPS the client's
    own address (X-Forwarded-For) keys the rate limits; without it a client cannot forge one."""
    from flask import request, url_for
    app = create_app({"INSTANCE_PATH": str(tmp_path), "AMANAH_ENV": "testing", "PROXY_HOPS": hops,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}",
                      "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://"})

    from amanah.extensions import limiter

    @limiter.limit("2/minute")
    def whoami():
        return {"addr": request.remote_addr, "url": url_for("main.healthz", _external=True)}

    app.add_url_rule("/_whoami", view_func=whoami)
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}

    def ask(client_addr: str):
        return client.get("/_whoami", environ_base=proxy, headers={
            "X-Forwarded-For": client_addr, "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "amanah.example"})

    first = ask("203.0.113.5")
    if hops:
        assert first.json == {"addr": "203.0.113.5", "url": "https://amanah.example/healthz"}
    else:
        assert first.json["addr"] == "127.0.0.1" and "//localhost/" in first.json["url"]
    ask("203.0.113.5")
    # A third request from the same client is over the limit; another client is not, but only
    # when the proxy's headers are believed (otherwise both are the proxy, 127.0.0.1).
    assert ask("203.0.113.5").status_code == 429
    assert ask("198.51.100.7").status_code == (200 if hops else 429)
    with app.app_context():
        from amanah.extensions import db
        db.engine.dispose()


def test_secret_key_generated_once_with_private_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("AMANAH_ENV", "development")
    first = load_config(tmp_path)["SECRET_KEY"]
    second = load_config(tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 40
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://a@b/c", "postgresql+psycopg://a@b/c"),
    ("postgresql://a@b/c", "postgresql+psycopg://a@b/c"),
    ("postgresql+psycopg://a@b/c", "postgresql+psycopg://a@b/c"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_url_normalization(given, expected):
    assert normalize_database_url(given) == expected


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_instance_secret_is_shared_by_processes_starting_at_once(tmp_path):
    """Workers booting together must agree on one secret (a race once broke a CI run)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        secrets = pool.starmap(_read_instance_secret, [(str(tmp_path),)] * 24)
    assert len(set(secrets)) == 1
    assert (tmp_path / "race_secret").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race_secret"]


def _read_instance_secret(folder):
    import secrets as secrets_module
    from pathlib import Path

    from amanah.config import instance_secret

    return instance_secret(Path(folder), "race_secret", lambda: secrets_module.token_hex(32))


@pytest.mark.parametrize("origin, allowed", [("https://amanah.example", True),
                                             ("https://evil.example", False)])
def test_language_switch_behind_a_proxy_that_rewrites_host(databases, tmp_path, origin, allowed):
    """nginx's plain proxy_pass sends Host: 127.0.0.1:8000; the browser's Origin names the public
    host, which SERVER_NAME (required in production) gives."""
    from tests.conftest import make_app

    app = make_app(databases.url, tmp_path / "i", SERVER_NAME="amanah.example")
    client = app.test_client()
    response = client.post("/language", data={"lang": "en", "next": "/about"},
                           headers={"Origin": origin, "Host": "127.0.0.1:8000"})
    assert response.status_code == (303 if allowed else 400)
    with app.app_context():
        db.engine.dispose()
