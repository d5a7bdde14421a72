"""amanah.mail: messages go out only after the commit, over real SMTP (plain, STARTTLS, TLS) or to
the outbox folder when no server is configured."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from amanah import mail, transactions
from amanah.extensions import db
from amanah.transactions import after_commit
from tests.conftest import running_smtp_server
from tests.factories import make_user


def test_message_headers_and_plain_body(app):
    with app.app_context():
        message = mail.build_message("siti@example.test", "Halo", "Tautan: https://x.test/a?b=c\n")
    assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert message["To"] == "siti@example.test" and message["Subject"] == "Halo"
    assert message["Message-ID"].endswith("@amanah.localhost>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"]
    assert "https://x.test/a?b=c" in message.as_string()  # unbroken, readable in an .eml file


def test_non_ascii_text_survives(app, smtp_server):
    with app.app_context():
        message = mail.build_message("sari@example.test", "Terima kasih, Ṣari",
                                     "Salam hangat dari Ñusa Tenggara — ✓\n")
        mail.deliver(message)
    received = smtp_server.messages[0]
    assert received["Subject"] == "Terima kasih, Ṣari"
    assert received.get_content().splitlines() == ["Salam hangat dari Ñusa Tenggara — ✓"]


def test_sent_only_after_commit(app, smtp_server):
    with app.app_context():
        make_user("a@example.test")
        after_commit(mail.send, mail.build_message("a@example.test", "one", "body"))
        db.session.flush()
        assert smtp_server.messages == []  # queued, not sent, while the transaction is open
        assert [call.args[0]["Subject"] for call in transactions.pending()] == ["one"]
        db.session.commit()
    assert [m["Subject"] for m in smtp_server.messages] == ["one"]


def test_nothing_sent_when_the_transaction_rolls_back(app, smtp_server):
    with app.app_context():
        make_user("b@example.test")
        after_commit(mail.send, mail.build_message("b@example.test", "never", "body"))
        db.session.rollback()
        assert transactions.pending() == []
        db.session.commit()  # a later commit does not resurrect it
    with app.app_context():
        db.session.commit()
    assert smtp_server.messages == []


@pytest.mark.own_app  # it adds a route
def test_a_request_that_fails_before_its_commit_sends_nothing(app, smtp_server):
    @app.post("/test-mail-then-fail")
    def mail_then_fail():
        after_commit(mail.send, mail.build_message("c@example.test", "never", "body"))
        raise RuntimeError("boom before the commit")

    response = app.test_client().post("/test-mail-then-fail")
    assert response.status_code == 500
    with app.app_context():
        db.session.commit()
    assert smtp_server.messages == []


def test_delivery_failure_is_logged_not_raised(app, caplog):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=1, MAIL_TIMEOUT=2)  # nothing listens there
    with app.app_context():
        after_commit(mail.send, mail.build_message("d@example.test", "lost", "body"))
        db.session.commit()
    assert "could not deliver mail to d@example.test" in caplog.text


def test_without_mail_server_messages_go_to_the_outbox(app, caplog):
    caplog.set_level("INFO")
    with app.app_context():
        after_commit(mail.send, mail.build_message("siti@example.test", "Reset", "https://x.test/r/abc\n"))
        db.session.commit()
    outbox = list((Path(app.instance_path) / "outbox").glob("*.eml"))
    assert len(outbox) == 1 and outbox[0].name.endswith("-siti.eml")
    parsed = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Reset" and "https://x.test/r/abc" in parsed.get_content()
    assert str(outbox[0]) in caplog.text


def test_production_never_writes_an_outbox(app):
    app.config["AMANAH_ENV"] = "production"
    try:
        with app.app_context(), pytest.raises(RuntimeError):
            mail.deliver(mail.build_message("e@example.test", "x", "y"))
    finally:
        app.config["AMANAH_ENV"] = "testing"


# ---- TLS and login against a real server with a certificate made for it ----

@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that the client trusts (through SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    return server_context


def _authenticator(logins):
    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"amanah", b"s3cret-smtp")
        return AuthResult(success=ok)
    return authenticate


def test_starttls_and_login(app, certificate):
    logins = []
    with running_smtp_server(tls_context=certificate, require_starttls=True, auth_required=True,
                             authenticator=_authenticator(logins)) as server:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=True,
                          MAIL_USERNAME="amanah", MAIL_PASSWORD="s3cret-smtp")
        with app.app_context():
            mail.deliver(mail.build_message("f@example.test", "over starttls", "body"))
    assert logins == [(b"amanah", b"s3cret-smtp")]
    assert [m["Subject"] for m in server.messages] == ["over starttls"]


def test_implicit_tls(app, certificate):
    with running_smtp_server(ssl_context=certificate) as server:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_SSL=True)
        with app.app_context():
            mail.deliver(mail.build_message("g@example.test", "over tls", "body"))
    assert [m["Subject"] for m in server.messages] == ["over tls"]


def test_a_server_without_a_trusted_certificate_is_refused(app, certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    with running_smtp_server(ssl_context=certificate) as server:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_SSL=True)
        with app.app_context(), pytest.raises(ssl.SSLError):
            mail.deliver(mail.build_message("h@example.test", "refused", "body"))
    assert server.messages == []


def test_a_password_reset_answers_before_looking_the_address_up(app, monkeypatch):
    """The answer to "forgot password" must take as long for an unknown address as for a known
    one: the lookup, the token, the message and SMTP all happen after it, in a thread."""
    import threading

    from accounts import services as accounts
    release, sent, looked_up = threading.Event(), [], []
    find_user = accounts.find_user

    def slow_smtp(message, config):
        release.wait(10)  # the mail server takes its time
        sent.append(message["To"])

    def recording_find_user(email):
        looked_up.append((email, threading.current_thread() is threading.main_thread()))
        return find_user(email)

    monkeypatch.setattr(mail, "_send_smtp", slow_smtp)
    monkeypatch.setattr(accounts, "find_user", recording_find_user)
    app.config["MAIL_SERVER"] = "smtp.example.test"
    with app.app_context():
        make_user("lupa@example.test")
        db.session.commit()
    client = app.test_client()
    for address in ("lupa@example.test", "nobody@example.test"):
        response = client.post("/account/password/forgot", data={"email": address})
        assert response.status_code == 303
    assert sent == []  # both answered while the mail was still going
    release.set()
    mail.wait_for_background()
    assert sent == ["lupa@example.test"]
    assert sorted(looked_up) == [("lupa@example.test", False), ("nobody@example.test", False)]
