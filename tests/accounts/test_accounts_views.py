"""Account pages through HTTP: register, sign in and out, reset, profile, e-mail, password, admin."""
from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from itsdangerous import TimestampSigner

from accounts import passwords
from accounts import services as accounts
from accounts.models import Role, User, UserRole
from amanah import mail
from amanah.extensions import db
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("fast_hashing")
PASSWORD = "lima kata acak sekali"
NEW_PASSWORD = "sawah hijau di lereng"
EN = {"Accept-Language": "en"}
ID = {"Accept-Language": "id"}


def account(app, *roles, email=None, password=PASSWORD, **fields):
    with app.app_context():
        user = make_user(email, *roles, password_hash=passwords.hash_password(password), **fields)
        return SimpleNamespace(id=user.id, email=user.email)


def load(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(User))


def sign_in(client, email, password=PASSWORD, headers=None, **fields):
    return client.post("/account/login", data={"email": email, "password": password, **fields},
                       headers=headers)


def signed_in(client) -> bool:
    return client.get("/account/profile").status_code == 200


def field_errors(response) -> dict[str, str]:
    html = response.get_data(as_text=True)
    return dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">([^<]*)</p>', html))


def form_errors(response) -> list[str]:
    return re.findall(r'<div class="form-errors" role="alert">\s*<p class="field-error">([^<]*)</p>',
                      response.get_data(as_text=True))


# ---- register ----

def test_register_signs_the_new_user_in(app, client):
    response = client.post("/account/register", headers=EN, data={
        "display_name": "Siti Nurhaliza", "email": "Siti@Example.test", "password": PASSWORD,
        "confirm": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/account/profile"
    page = client.get("/account/profile", headers=EN).get_data(as_text=True)
    assert "Welcome to Amanah, Siti Nurhaliza." in page
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "siti@example.test"))
        assert user.display_name == "Siti Nurhaliza" and user.preferred_language == "en"
        assert user.password_hash.startswith("$argon2id$")


VALID = {"display_name": "Siti", "email": "siti@example.test", "password": PASSWORD, "confirm": PASSWORD}
BAD_REGISTRATIONS = [
    ({"email": "siti@"}, "email", "Enter a valid e-mail address, like nama@contoh.id.",
     "Masukkan alamat e-mail yang valid, misalnya nama@contoh.id."),
    ({"email": ""}, "email", "Enter your e-mail address.", "Masukkan alamat e-mail Anda."),
    ({"password": "pendek", "confirm": "pendek"}, "password", "Use at least 8 characters.",
     "Gunakan minimal 8 karakter."),
    ({"password": "iloveyou", "confirm": "iloveyou"}, "password",
     "This password is one of the most common ones; choose one that is harder to guess.",
     "Kata sandi ini termasuk yang paling umum; pilih yang lebih sulit ditebak."),
    ({"confirm": PASSWORD + "!"}, "confirm", "The two passwords do not match.",
     "Kedua kata sandi tidak sama."),
    ({"display_name": "N" * 121}, "display_name", "Use at most 120 characters.",
     "Gunakan paling banyak 120 karakter."),
    ({"display_name": "  "}, "display_name", "Enter your name.", "Masukkan nama Anda."),
    ({"email": "TAKEN@example.TEST"}, "email",
     "An account with this e-mail address already exists. Sign in, or reset your password if you forgot it.",
     "Sudah ada akun dengan alamat e-mail ini. Silakan masuk, atau atur ulang kata sandi jika Anda lupa."),
]


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize(("change", "field", "english", "indonesian"), BAD_REGISTRATIONS,
                         ids=[f"{case[1]}-{i}" for i, case in enumerate(BAD_REGISTRATIONS)])
def test_register_rejects_bad_input_clearly_and_saves_nothing(app, client, lang, change, field, english,
                                                              indonesian):
    account(app, email="taken@example.test")
    before = count_users(app)
    response = client.post("/account/register", data={**VALID, **change}, headers={"Accept-Language": lang})
    assert response.status_code == 422
    assert field_errors(response).get(field) == (english if lang == "en" else indonesian)
    html = response.get_data(as_text=True)
    tag = re.search(rf'<input [^>]*id="{field}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag and f"{field}-error" in tag
    assert 'value="' + PASSWORD not in html  # passwords are never echoed back
    assert count_users(app) == before
    assert not signed_in(client)


# ---- sign in and out ----

def test_login_does_not_reveal_whether_an_address_exists(app, client):
    account(app, email="budi@example.test")
    wrong_password = sign_in(client, "budi@example.test", "not the password", headers=EN)
    unknown = client.post("/account/login", headers=EN,
                          data={"email": "nobody@example.test", "password": "not the password"})
    assert wrong_password.status_code == unknown.status_code == 422
    assert form_errors(wrong_password) == form_errors(unknown) == [
        "That e-mail address and password do not match an account."]
    assert not signed_in(client)


def test_login_message_in_indonesian(app, client):
    response = client.post("/account/login", headers=ID, data={"email": "x@example.test", "password": "x"})
    assert form_errors(response) == ["Alamat e-mail dan kata sandi itu tidak cocok dengan akun mana pun."]


def test_login_renews_the_session_and_records_the_time(app, client):
    user = account(app, email="budi@example.test")
    client.post("/language", data={"lang": "en"})
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = client.post("/account/login", data={"email": "BUDI@example.test", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{user.id}:1"
        assert session["lang"] == "en"  # a language chosen a moment ago survives
    assert load(app, user.id).last_login_at is not None


def test_remember_me_sets_a_lasting_cookie_only_when_asked(app):
    account(app, email="budi@example.test")
    plain = sign_in(app.test_client(), "budi@example.test")
    remembered = sign_in(app.test_client(), "budi@example.test", remember="y")
    assert not any(c.startswith("remember_token=") for c in plain.headers.getlist("Set-Cookie"))
    cookie = next(c for c in remembered.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "HttpOnly" in cookie and "Expires=" in cookie


def test_remember_cookie_alone_signs_in_until_the_password_changes(app):
    user = account(app, email="budi@example.test")
    first = app.test_client()
    sign_in(first, "budi@example.test", remember="y")
    cookie = first.get_cookie("remember_token")
    fresh = app.test_client()
    fresh.set_cookie("remember_token", cookie.value)
    assert signed_in(fresh)
    with app.app_context():
        accounts.change_password(db.session.get(User, user.id), PASSWORD, NEW_PASSWORD)
        db.session.commit()
    later = app.test_client()
    later.set_cookie("remember_token", cookie.value)
    assert not signed_in(later)


def test_logout_is_post_only_and_clears_the_session(app, client):
    account(app, email="budi@example.test")
    sign_in(client, "budi@example.test")
    assert client.get("/account/logout").status_code == 405
    assert signed_in(client)
    response = client.post("/account/logout", headers=EN)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert not signed_in(client)
    assert "You have signed out." in client.get("/", headers=EN).get_data(as_text=True)


def test_account_pages_send_anonymous_visitors_to_login_and_back(app, client):
    account(app, email="budi@example.test")
    response = client.get("/account/email", headers=EN)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login?next=%2Faccount%2Femail"
    page = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert "Please sign in to see this page." in page
    assert 'name="next" type="hidden" value="/account/email"' in page
    response = sign_in(client, "budi@example.test", next="/account/email")
    assert response.headers["Location"] == "/account/email"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1"])
def test_login_never_redirects_off_site(app, client, target):
    account(app, email="budi@example.test")
    response = sign_in(client, "budi@example.test", next=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


# ---- forgotten password ----

def reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/account/password/reset/[\w.\-]+)", message.get_content())
    return match.group(1)


def test_forgotten_password_by_mail(app, client, smtp_server):
    user = account(app, email="budi@example.test")
    other_device = app.test_client()
    sign_in(other_device, "budi@example.test")
    response = client.post("/account/password/forgot", data={"email": "Budi@Example.test"}, headers=EN)
    assert response.status_code == 303 and response.headers["Location"] == "/account/login"
    assert "If an account uses Budi@Example.test, we have sent it a link" in \
        client.get("/account/login", headers=EN).get_data(as_text=True)
    mail.wait_for_background()  # a reset mail goes out in a thread of its own
    [message] = smtp_server.messages
    assert message["To"] == "budi@example.test"
    link = reset_link(message)

    page = client.get(link, headers=EN)
    assert page.status_code == 200 and "budi@example.test" in page.get_data(as_text=True)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/account/login"
    assert not signed_in(other_device)  # every session ended
    assert sign_in(client, "budi@example.test").status_code == 422
    assert sign_in(client, "budi@example.test", NEW_PASSWORD).status_code == 303
    assert [m["To"] for m in smtp_server.messages[1:]] == ["budi@example.test"]  # "password changed"
    used = client.get(link, headers=EN)
    assert used.status_code == 400
    assert "not valid or has already been used" in used.get_data(as_text=True)
    assert load(app, user.id).session_version == 2


def test_forgotten_password_for_an_unknown_address_says_the_same_and_sends_nothing(app, client,
                                                                                   smtp_server):
    known = client.post("/account/password/forgot", data={"email": "nobody@example.test"}, headers=EN)
    assert known.status_code == 303
    assert "If an account uses nobody@example.test, we have sent it a link" in \
        client.get("/account/login", headers=EN).get_data(as_text=True)
    assert smtp_server.messages == []


def test_reset_mail_speaks_the_users_language(app, client, smtp_server):
    account(app, email="siti@example.test", preferred_language="id")
    client.post("/account/password/forgot", data={"email": "siti@example.test"}, headers=EN)
    mail.wait_for_background()  # a reset mail goes out in a thread of its own
    [message] = smtp_server.messages
    assert message["Subject"] == "Pilih kata sandi Amanah yang baru"


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "This password reset link has expired: links work for one hour. Ask for a new one."),
    ("id", "Tautan pengaturan ulang kata sandi ini sudah kedaluwarsa: tautan hanya berlaku satu jam. "
           "Mintalah tautan baru."),
])
def test_expired_reset_link(app, client, monkeypatch, lang, expected):
    user = account(app)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3601)
    with app.test_request_context():
        token = accounts.make_reset_token(db.session.get(User, user.id))
    monkeypatch.undo()
    before = load(app, user.id).password_hash
    for response in (client.get(f"/account/password/reset/{token}", headers={"Accept-Language": lang}),
                     client.post(f"/account/password/reset/{token}", headers={"Accept-Language": lang},
                                 data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})):
        assert response.status_code == 400
        assert expected in response.get_data(as_text=True)
    assert load(app, user.id).password_hash == before


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "This password reset link is not valid or has already been used. Ask for a new one."),
    ("id", "Tautan pengaturan ulang kata sandi ini tidak valid atau sudah pernah dipakai. "
           "Mintalah tautan baru."),
])
def test_tampered_reset_link(app, client, lang, expected):
    user = account(app)
    with app.test_request_context():
        token = accounts.make_reset_token(db.session.get(User, user.id))
    before = load(app, user.id).password_hash
    tampered = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    response = client.post(f"/account/password/reset/{tampered}", headers={"Accept-Language": lang},
                           data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400 and expected in response.get_data(as_text=True)
    assert load(app, user.id).password_hash == before


def test_reset_form_rejects_a_bad_new_password(app, client):
    user = account(app)
    with app.test_request_context():
        token = accounts.make_reset_token(db.session.get(User, user.id))
    before = load(app, user.id).password_hash
    response = client.post(f"/account/password/reset/{token}", headers=EN,
                           data={"password": NEW_PASSWORD, "confirm": "something else"})
    assert response.status_code == 422
    assert field_errors(response) == {"confirm": "The two passwords do not match."}
    response = client.post(f"/account/password/reset/{token}", headers=EN,
                           data={"password": "password1", "confirm": "password1"})
    assert "password" in field_errors(response)
    assert load(app, user.id).password_hash == before



def test_reset_form_posts_to_itself_under_the_mount_point(app, client):
    """The form's action was the path without the script root: behind a proxy that mounts the app
    under a path (SCRIPT_NAME), choosing a new password posted to another site's address."""
    user = account(app)
    with app.test_request_context():
        token = accounts.make_reset_token(db.session.get(User, user.id))
    page = client.get(f"/account/password/reset/{token}", base_url="http://localhost/amanah/")
    assert f'action="/amanah/account/password/reset/{token}"' in page.get_data(as_text=True)


# ---- profile ----

def test_profile_saves_name_language_and_tax_ids(app, client):
    user = account(app, email="budi@example.test")
    sign_in(client, "budi@example.test")
    response = client.post("/account/profile", data={
        "display_name": "Budi Santoso", "preferred_language": "en", "npwp": "01.234.567.8-901.234",
        "nik": "3171 2345 6789 0001"})
    assert response.status_code == 303
    assert any(c.startswith("lang=en") for c in response.headers.getlist("Set-Cookie"))
    saved = load(app, user.id)
    assert (saved.display_name, saved.preferred_language, saved.npwp, saved.nik) == \
        ("Budi Santoso", "en", "012345678901234", "3171234567890001")
    page = client.get("/account/profile", headers=ID).get_data(as_text=True)
    assert '<html lang="en">' in page and "Your profile has been saved." in page
    assert 'value="01.234.567.8-901.234"' in page


def test_profile_language_beats_an_old_device_cookie(app):
    account(app, email="budi@example.test", preferred_language="en")
    client = app.test_client()
    client.set_cookie("lang", "id")  # remembered from an earlier, anonymous visit
    assert '<html lang="id">' in client.get("/").get_data(as_text=True)
    sign_in(client, "budi@example.test")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    client.post("/language", data={"lang": "id"})  # an explicit switch in this session still wins
    assert '<html lang="id">' in client.get("/").get_data(as_text=True)


BAD_PROFILES = [
    ({"nik": "12345"}, "nik", "A NIK is exactly 16 digits, as printed on your KTP.",
     "NIK terdiri dari tepat 16 digit, seperti tercetak di KTP Anda."),
    ({"npwp": "01.234.567.8-901.23"}, "npwp",
     "An NPWP has 15 digits (like 01.234.567.8-901.234) or 16 digits.",
     "NPWP terdiri dari 15 digit (seperti 01.234.567.8-901.234) atau 16 digit."),
    ({"display_name": "x" * 121}, "display_name", "Use at most 120 characters.",
     "Gunakan paling banyak 120 karakter."),
    ({"preferred_language": "fr"}, "preferred_language", "Choose a language from the list.",
     "Pilih bahasa dari daftar."),
]


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize(("change", "field", "english", "indonesian"), BAD_PROFILES,
                         ids=[case[1] for case in BAD_PROFILES])
def test_profile_rejects_bad_input_and_saves_nothing(app, client, lang, change, field, english, indonesian):
    user = account(app, email="budi@example.test", name="Budi", nik="3171234567890001")
    sign_in(client, "budi@example.test")
    data = {"display_name": "Budi Baru", "preferred_language": "", "npwp": "", "nik": "", **change}
    response = client.post("/account/profile", data=data, headers={"Accept-Language": lang})
    assert response.status_code == 422
    assert field_errors(response)[field] == (english if lang == "en" else indonesian)
    saved = load(app, user.id)
    assert (saved.display_name, saved.nik, saved.npwp) == ("Budi", "3171234567890001", None)


# ---- e-mail and password changes ----

@pytest.mark.parametrize(("lang", "expected"), [("en", "That is not your current password."),
                                                ("id", "Itu bukan kata sandi Anda saat ini.")])
def test_email_change_needs_the_current_password(app, client, smtp_server, lang, expected):
    user = account(app, email="budi@example.test")
    sign_in(client, "budi@example.test")
    response = client.post("/account/email", headers={"Accept-Language": lang},
                           data={"email": "budi.baru@example.test", "password": "wrong password"})
    assert response.status_code == 422 and field_errors(response) == {"password": expected}
    assert load(app, user.id).email == "budi@example.test"
    assert smtp_server.messages == []


def test_email_change_tells_the_old_address(app, client, smtp_server):
    user = account(app, email="budi@example.test")
    account(app, email="siti@example.test")
    sign_in(client, "budi@example.test")
    taken = client.post("/account/email", headers=EN,
                        data={"email": "Siti@example.test", "password": PASSWORD})
    assert taken.status_code == 422 and "already exists" in field_errors(taken)["email"]
    response = client.post("/account/email", data={"email": "Budi.Baru@Example.test", "password": PASSWORD})
    assert response.status_code == 303
    assert load(app, user.id).email == "budi.baru@example.test"
    notice, verify = smtp_server.messages
    assert notice["To"] == "budi@example.test"
    assert "budi.baru@example.test" in notice.get_content()
    assert verify["To"] == "budi.baru@example.test" and "/account/email/verify/" in verify.get_content()
    assert signed_in(client)
    assert sign_in(app.test_client(), "budi.baru@example.test").status_code == 303


def test_password_change_ends_other_sessions_but_not_this_one(app, client, smtp_server):
    user = account(app, email="budi@example.test")
    sign_in(client, "budi@example.test")
    other = app.test_client()
    sign_in(other, "budi@example.test")
    response = client.post("/account/password", headers=EN, data={
        "current_password": "wrong", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert field_errors(response) == {"current_password": "That is not your current password."}
    assert signed_in(other)
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert signed_in(client) and not signed_in(other)
    with app.app_context():
        assert passwords.verify_password(load(app, user.id).password_hash, NEW_PASSWORD)
    assert [m["To"] for m in smtp_server.messages] == ["budi@example.test"]


# ---- admin: users and roles ----

def test_admin_finds_users(app, client):
    admin = account(app, Role.ADMIN, name="Dewi Admin")
    account(app, Role.ORGANIZER, email="budi@example.test", name="Budi Santoso")
    account(app, email="siti@example.test", name="Siti Nurhaliza")
    sign_in(client, admin.email)
    page = client.get("/admin/users?q=santoso", headers=EN).get_data(as_text=True)
    assert "budi@example.test" in page and "siti@example.test" not in page
    page = client.get("/admin/users?role=organizer").get_data(as_text=True)
    assert "budi@example.test" in page and "siti@example.test" not in page
    page = client.get("/admin/users?q=nobody-like-this", headers=EN).get_data(as_text=True)
    assert "No user matches this search." in page


def test_admin_grants_and_revokes_roles(app, client):
    admin = account(app, Role.ADMIN)
    user = account(app, Role.AUDITOR)
    sign_in(client, admin.email)
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert re.search(r'<input checked [^>]*value="auditor"', page)
    assert not re.search(r'<input checked [^>]*value="organizer"', page)
    response = client.post(f"/admin/users/{user.id}", data={"roles": ["organizer", "treasurer"]})
    assert response.status_code == 303
    with app.app_context():
        rows = db.session.scalars(db.select(UserRole).where(UserRole.user_id == user.id)).all()
        assert {(r.role, r.granted_by_id) for r in rows} == {("organizer", admin.id), ("treasurer", admin.id)}
    assert client.post(f"/admin/users/{user.id}", data={"roles": ["bogus"]}).status_code == 422


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "You cannot remove your own admin role; ask another admin."),
    ("id", "Anda tidak dapat mencabut peran admin Anda sendiri; mintalah kepada admin lain."),
])
def test_admin_cannot_revoke_their_own_admin_role(app, client, lang, expected):
    admin = account(app, Role.ADMIN, Role.AUDITOR)
    account(app, Role.ADMIN)
    sign_in(client, admin.email)
    response = client.post(f"/admin/users/{admin.id}", data={"roles": ["organizer"]},
                           headers={"Accept-Language": lang})
    assert response.status_code == 422 and expected in response.get_data(as_text=True)
    assert load(app, admin.id).role_names == {Role.DONOR, Role.ADMIN, Role.AUDITOR}
