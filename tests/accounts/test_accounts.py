"""Account services, called directly: registration, sign-in, profile, e-mail, passwords, roles."""
from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher
from itsdangerous import TimestampSigner

from accounts import passwords
from accounts import services as accounts
from accounts.models import Role, User, UserRole
from accounts.services import AccountError
from amanah.extensions import db
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("fast_hashing")
PASSWORD = "lima kata acak sekali"


@pytest.fixture
def ctx(app):
    # Messages are checked in English here; both languages are checked through the pages.
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield app


def user_with_password(*roles, email=None, password=PASSWORD, **fields) -> User:
    return make_user(email, *roles, password_hash=passwords.hash_password(password), **fields)


def fields_of(excinfo) -> set[str]:
    return set(excinfo.value.errors)


# ---- passwords ----

def test_hashes_are_argon2id_with_the_library_profile_by_default(app):
    app.config.pop("ARGON2_PARAMETERS")
    with app.app_context():
        hashed = passwords.hash_password("correct horse battery")
        default = PasswordHasher()
        assert hashed.startswith(f"$argon2id$v=19$m={default.memory_cost},t={default.time_cost},"
                                 f"p={default.parallelism}$")
        assert passwords.verify_password(hashed, "correct horse battery")
        assert not passwords.verify_password(hashed, "correct horse batterY")
        assert not passwords.verify_password("!unusable", "anything")


def test_common_password_list_is_shipped_and_used(app):
    common = passwords.common_passwords()
    assert 10_000 <= len(common) <= 10_100
    assert {"123456", "password", "qwertyuiop", "iloveyou", "bismillah", "indonesia"} <= common
    assert not any(line.startswith("# ") for line in common)
    with app.app_context():
        assert passwords.password_problem("qwertyuiop") is not None
        assert passwords.password_problem("QWERTYUIOP") is not None  # case does not help
        assert passwords.password_problem("Password123") is not None
        assert passwords.password_problem("short") is not None
        assert passwords.password_problem("x" * 257) is not None
        assert passwords.password_problem("siti@example.test", email="siti@example.test") is not None
        assert passwords.password_problem("sawah hijau di lereng") is None
        # No composition rules: eight lower-case letters that are not a known password are fine.
        assert passwords.password_problem("gjdkeuwq") is None


# ---- registration and sign-in ----

def test_register_stores_lower_case_email_and_argon2id_hash(ctx):
    user = accounts.register_user("  Siti.Nur@Example.TEST ", "  Siti   Nurhaliza ", PASSWORD, "en")
    db.session.commit()
    assert user.email == "siti.nur@example.test"
    assert user.display_name == "Siti Nurhaliza"
    assert user.preferred_language == "en"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.role_names == {Role.DONOR}


def test_register_reports_every_problem_at_once_and_saves_nothing(ctx):
    with pytest.raises(AccountError) as excinfo:
        accounts.register_user("not-an-address", "", "123456")
    assert fields_of(excinfo) == {"email", "display_name", "password"}
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("email", ["siti@example.test", "SITI@example.test", " Siti@Example.Test "])
def test_duplicate_email_is_refused_whatever_its_case(ctx, email):
    user_with_password(email="siti@example.test")
    with pytest.raises(AccountError) as excinfo:
        accounts.register_user(email, "Siti Lain", PASSWORD)
    assert fields_of(excinfo) == {"email"}
    assert "already exists" in str(excinfo.value)


@pytest.mark.parametrize(("name", "ok"), [("A" * 120, True), ("A" * 121, False), ("Budi\x00", False),
                                          ("   ", False), ("Ni Luh Putu Ayu Ṣari", True)])
def test_display_name_rules(ctx, name, ok):
    if ok:
        assert accounts.clean_display_name(name) == name.strip()
    else:
        with pytest.raises(AccountError):
            accounts.clean_display_name(name)


def test_special_use_domains_are_refused_in_production(ctx):
    assert accounts.normalize_email("a@amanah.test") == "a@amanah.test"
    ctx.config["AMANAH_ENV"] = "production"
    try:
        with pytest.raises(AccountError):
            accounts.normalize_email("a@amanah.test")
        assert accounts.normalize_email("a@contoh.co.id") == "a@contoh.co.id"
    finally:
        ctx.config["AMANAH_ENV"] = "testing"


def test_authenticate(ctx):
    user = user_with_password(email="budi@example.test")
    assert user.last_login_at is None
    assert accounts.authenticate("BUDI@example.test ", PASSWORD) is user
    assert user.last_login_at is not None
    assert accounts.authenticate("budi@example.test", PASSWORD + "x") is None
    assert accounts.authenticate("nobody@example.test", PASSWORD) is None
    assert accounts.authenticate("", "") is None
    user.active = False
    assert accounts.authenticate("budi@example.test", PASSWORD) is None


def test_authenticate_rehashes_when_the_parameters_change(ctx):
    user = user_with_password(email="budi@example.test")
    old_hash = user.password_hash
    assert ",t=1," in old_hash
    ctx.config["ARGON2_PARAMETERS"] = {"time_cost": 2, "memory_cost": 16, "parallelism": 1}
    assert accounts.authenticate("budi@example.test", PASSWORD) is user
    assert user.password_hash != old_hash and "m=16,t=2,p=1" in user.password_hash
    assert passwords.verify_password(user.password_hash, PASSWORD)
    again = user.password_hash
    accounts.authenticate("budi@example.test", PASSWORD)
    assert user.password_hash == again  # already current: left alone


# ---- profile ----

@pytest.mark.parametrize(("typed", "stored"), [
    ("01.234.567.8-901.234", "012345678901234"),
    ("012345678901234", "012345678901234"),
    ("0123 4567 8901 2345", "0123456789012345"),
    ("", None),
])
def test_npwp_is_stored_as_digits(typed, stored, ctx):
    assert accounts.normalize_npwp(typed) == stored


@pytest.mark.parametrize("typed", ["01.234.567.8-901.23", "01234567890123456", "NPWP0123456789012",
                                   "01/234/567/8/901/234"])
def test_bad_npwp_is_refused(typed, ctx):
    with pytest.raises(AccountError) as excinfo:
        accounts.normalize_npwp(typed)
    assert fields_of(excinfo) == {"npwp"}


@pytest.mark.parametrize(("typed", "ok"), [("3171234567890001", True), ("3171 2345 6789 0001", True),
                                           ("317123456789000", False), ("31712345678900011", False),
                                           ("31.71.23.456789.0001", False), ("317123456789000A", False)])
def test_nik_is_exactly_sixteen_digits(typed, ok, ctx):
    if ok:
        assert accounts.normalize_nik(typed) == "3171234567890001"
    else:
        with pytest.raises(AccountError):
            accounts.normalize_nik(typed)


def test_format_npwp():
    assert accounts.format_npwp("012345678901234") == "01.234.567.8-901.234"
    assert accounts.format_npwp("0123456789012345") == "0123456789012345"
    assert accounts.format_npwp(None) == ""


def test_update_profile_saves_nothing_when_one_field_is_wrong(ctx):
    user = user_with_password(name="Budi", npwp="012345678901234")
    with pytest.raises(AccountError) as excinfo:
        accounts.update_profile(user, "Budi Santoso", "en", "123", "3171234567890001")
    assert fields_of(excinfo) == {"npwp"}
    assert (user.display_name, user.preferred_language, user.npwp, user.nik) == \
        ("Budi", None, "012345678901234", None)
    accounts.update_profile(user, "Budi Santoso", "en", "", "3171234567890001")
    assert (user.display_name, user.preferred_language, user.npwp, user.nik) == \
        ("Budi Santoso", "en", None, "3171234567890001")
    with pytest.raises(AccountError) as excinfo:
        accounts.update_profile(user, "Budi", "fr", None, None)
    assert fields_of(excinfo) == {"preferred_language"}


# ---- e-mail and password changes ----

def test_change_email_needs_the_current_password(ctx):
    user = user_with_password(email="budi@example.test")
    with pytest.raises(AccountError) as excinfo:
        accounts.change_email(user, "wrong password", "budi.baru@example.test")
    assert fields_of(excinfo) == {"password"}
    assert user.email == "budi@example.test"
    accounts.change_email(user, PASSWORD, "Budi.Baru@Example.test")
    assert user.email == "budi.baru@example.test"


def test_change_email_refuses_a_taken_or_unchanged_address(ctx):
    user_with_password(email="siti@example.test")
    user = user_with_password(email="budi@example.test")
    for address in ("SITI@example.test", "budi@example.test", "nonsense"):
        with pytest.raises(AccountError) as excinfo:
            accounts.change_email(user, PASSWORD, address)
        assert fields_of(excinfo) == {"email"}
    assert user.email == "budi@example.test"


def test_change_password_bumps_the_session_version(ctx):
    user = user_with_password()
    version = user.session_version
    with pytest.raises(AccountError) as excinfo:
        accounts.change_password(user, "not it", "password1")
    assert fields_of(excinfo) == {"current_password", "password"}
    accounts.change_password(user, PASSWORD, "hujan turun di bulan juni")
    assert user.session_version == version + 1
    assert passwords.verify_password(user.password_hash, "hujan turun di bulan juni")


# ---- reset tokens ----

def test_reset_token_works_once(ctx):
    user = user_with_password()
    token = accounts.make_reset_token(user)
    assert accounts.user_for_reset_token(token) is user
    accounts.reset_password(token, "pelangi sehabis hujan")
    db.session.commit()
    assert passwords.verify_password(user.password_hash, "pelangi sehabis hujan")
    with pytest.raises(AccountError) as excinfo:
        accounts.user_for_reset_token(token)
    assert "not valid" in str(excinfo.value)


def test_reset_token_dies_when_the_email_changes(ctx):
    user = user_with_password()
    token = accounts.make_reset_token(user)
    accounts.change_email(user, PASSWORD, "baru@example.test")
    with pytest.raises(AccountError):
        accounts.user_for_reset_token(token)


def test_reset_token_expires_after_an_hour(ctx, monkeypatch):
    user = user_with_password()
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3590)
    fresh_enough = accounts.make_reset_token(user)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3610)
    stale = accounts.make_reset_token(user)
    monkeypatch.undo()
    assert accounts.user_for_reset_token(fresh_enough) is user
    with pytest.raises(AccountError) as excinfo:
        accounts.user_for_reset_token(stale)
    assert "expired" in str(excinfo.value)


def test_tampered_or_foreign_reset_tokens_are_refused(ctx):
    user = user_with_password()
    token = accounts.make_reset_token(user)
    other = user_with_password()
    payload, rest = token.split(".", 1)
    forged = accounts._reset_serializer().dumps({"u": other.id, "f": "0" * 32})
    foreign_key = accounts.URLSafeTimedSerializer("another secret", salt=accounts.RESET_SALT).dumps(
        {"u": user.id, "f": accounts._reset_fingerprint(user)})
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), payload[::-1] + "." + rest,
                forged, foreign_key, "", "garbage"):
        with pytest.raises(AccountError):
            accounts.user_for_reset_token(bad)


def test_reset_with_a_bad_password_changes_nothing(ctx):
    user = user_with_password()
    token = accounts.make_reset_token(user)
    old_hash, version = user.password_hash, user.session_version
    with pytest.raises(AccountError) as excinfo:
        accounts.reset_password(token, "iloveyou")
    assert fields_of(excinfo) == {"password"}
    assert (user.password_hash, user.session_version) == (old_hash, version)
    assert accounts.user_for_reset_token(token) is user  # still usable


# ---- roles ----

def test_grant_records_who_granted(ctx):
    admin = user_with_password(Role.ADMIN)
    user = user_with_password()
    assert accounts.grant_role(user, "organizer", granted_by=admin) is True
    assert accounts.grant_role(user, Role.ORGANIZER, granted_by=admin) is False
    db.session.commit()
    row = db.session.get(UserRole, (user.id, "organizer"))
    assert row.granted_by_id == admin.id and row.granted_at is not None
    assert user.has_role(Role.ORGANIZER)
    assert accounts.granters(user) == {admin.id: admin}


def test_unknown_and_donor_roles_cannot_be_granted(ctx):
    user = user_with_password()
    for role in ("donor", "superuser"):
        with pytest.raises(AccountError):
            accounts.grant_role(user, role)


def test_an_admin_cannot_revoke_their_own_admin_role(ctx):
    first = user_with_password(Role.ADMIN)
    second = user_with_password(Role.ADMIN)
    with pytest.raises(AccountError) as excinfo:
        accounts.revoke_role(first, Role.ADMIN, revoked_by=first)
    assert "own admin role" in str(excinfo.value)
    assert accounts.revoke_role(first, Role.ADMIN, revoked_by=second) is True
    db.session.commit()
    assert not first.has_role(Role.ADMIN)
    assert accounts.count_admins() == 1


def test_the_last_admin_stays(ctx):
    only = user_with_password(Role.ADMIN)
    with pytest.raises(AccountError) as excinfo:
        accounts.revoke_role(only, Role.ADMIN)
    assert "last admin" in str(excinfo.value)
    assert only.has_role(Role.ADMIN)


def test_set_roles_is_all_or_nothing(ctx):
    admin = user_with_password(Role.ADMIN, Role.AUDITOR)
    with pytest.raises(AccountError):
        accounts.set_roles(admin, ["treasurer"], changed_by=admin)  # would drop their own admin
    assert admin.role_names == {Role.DONOR, Role.ADMIN, Role.AUDITOR}
    user = user_with_password(Role.AUDITOR)
    granted, revoked = accounts.set_roles(user, ["organizer", "treasurer"], changed_by=admin)
    assert granted == {Role.ORGANIZER, Role.TREASURER} and revoked == {Role.AUDITOR}
    db.session.commit()
    assert user.role_names == {Role.DONOR, Role.ORGANIZER, Role.TREASURER}


def test_search_users(ctx):
    user_with_password(email="siti.nur@example.test", name="Siti Nurhaliza")
    user_with_password(Role.ORGANIZER, email="budi@example.test", name="Budi Santoso")
    user_with_password(email="percent@example.test", name="100% Amanah")
    assert [u.email for u in accounts.search_users("NURHAL").items] == ["siti.nur@example.test"]
    assert [u.email for u in accounts.search_users("budi@").items] == ["budi@example.test"]
    assert [u.email for u in accounts.search_users("%").items] == ["percent@example.test"]
    assert [u.email for u in accounts.search_users("", role="organizer").items] == ["budi@example.test"]
    assert accounts.search_users("").total == 3
    assert accounts.search_users("", page=99).items == []


def test_international_domains_are_stored_in_their_ascii_form(ctx):
    assert accounts.normalize_email("Budi@Bücher.example") == "budi@xn--bcher-kva.example"
    with pytest.raises(AccountError):
        accounts.normalize_email("bü@example.test")  # a non-ASCII mailbox needs SMTPUTF8


@pytest.mark.parametrize("session_id", ["", "1", "1:", ":1", "²:1", "1:²", "1:1:1", " 1:1", "1:1\n",
                                        "9" * 30 + ":1", "1:" + "9" * 30, "-1:1", "1.0:1",
                                        "9" * 18 + ":1", "1:" + "9" * 18, f"{2**31}:1"])
def test_a_malformed_session_id_is_nobody(app, session_id):
    from accounts.auth import load_user
    with app.app_context():
        assert load_user(session_id) is None


def test_a_session_id_names_its_user_and_version(app):
    from accounts.auth import load_user
    with app.app_context():
        user = make_user("session@example.test")
        db.session.commit()
        assert load_user(f"{user.id}:{user.session_version}") == user
        assert load_user(f"{user.id}:{user.session_version + 1}") is None
