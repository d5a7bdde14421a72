"""`flask users create-admin|grant|revoke` and the demo accounts of `flask demo`."""
from __future__ import annotations

import click
import pytest

from accounts import cli, passwords
from accounts import services as accounts
from accounts.models import Role, User, UserRole
from amanah import demo
from amanah.extensions import db
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("fast_hashing")
GOOD = "kopi tubruk pagi hari"


def get_user(app, email) -> User | None:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(User))


def test_create_admin_asks_for_name_and_password(app, runner):
    result = runner.invoke(args=["users", "create-admin", "Dewi@Example.test"],
                           input=f"Dewi Lestari\n{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "Created the admin account dewi@example.test." in result.output
    assert GOOD not in result.output  # hidden input
    user = get_user(app, "dewi@example.test")
    assert user.display_name == "Dewi Lestari" and user.has_role(Role.ADMIN)
    with app.app_context():
        assert passwords.verify_password(user.password_hash, GOOD)
        grant = db.session.get(UserRole, (user.id, "admin"))
        assert grant.granted_by_id is None


def test_create_admin_asks_again_for_a_weak_password(app, runner):
    result = runner.invoke(args=["users", "create-admin", "dewi@example.test"],
                           input=f"Dewi\n12345678\n{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "This password is one of the most common ones" in result.output
    assert get_user(app, "dewi@example.test").has_role(Role.ADMIN)


def test_create_admin_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(args=["users", "create-admin", "ops@example.test", "--name", "Ops",
                                 "--password-stdin"], input=f"{GOOD}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert passwords.verify_password(get_user(app, "ops@example.test").password_hash, GOOD)


def test_password_stdin_needs_a_name(app, runner):
    result = runner.invoke(args=["users", "create-admin", "ops@example.test", "--password-stdin"],
                           input=f"{GOOD}\n")
    assert result.exit_code == 2 and "--password-stdin needs --name" in result.output
    assert count_users(app) == 0


def test_create_admin_takes_the_password_from_the_environment(app, runner, monkeypatch):
    monkeypatch.setenv(cli.PASSWORD_ENV, GOOD)
    result = runner.invoke(args=["users", "create-admin", "ops@example.test", "--name", "Ops"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert passwords.verify_password(get_user(app, "ops@example.test").password_hash, GOOD)


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["bad-address", "--name", "X"], GOOD, "Enter a valid e-mail address"),
    (["ops@example.test", "--name", "X"], "12345678", "one of the most common ones"),
    (["ops@example.test", "--name", "X" * 121], GOOD, "Use at most 120 characters."),
])
def test_create_admin_refuses_bad_input_and_creates_nothing(app, runner, args, stdin, message):
    result = runner.invoke(args=["users", "create-admin", *args, "--password-stdin"], input=stdin + "\n")
    assert result.exit_code == 1 and message in result.output
    assert count_users(app) == 0


def test_create_admin_for_an_existing_account_points_to_grant(app, runner):
    with app.app_context():
        make_user("dewi@example.test")
    result = runner.invoke(args=["users", "create-admin", "DEWI@example.test", "--name", "Dewi",
                                 "--password-stdin"], input=GOOD + "\n")
    assert result.exit_code == 1
    assert "already exists" in result.output and "flask users grant EMAIL admin" in result.output
    assert not get_user(app, "dewi@example.test").has_role(Role.ADMIN)


def test_grant_and_revoke(app, runner):
    with app.app_context():
        make_user("budi@example.test")
        make_user("admin@example.test", Role.ADMIN)
    result = runner.invoke(args=["users", "grant", "Budi@example.test", "organizer"])
    assert result.exit_code == 0 and "budi@example.test is now organizer." in result.output
    assert get_user(app, "budi@example.test").has_role(Role.ORGANIZER)
    result = runner.invoke(args=["users", "grant", "budi@example.test", "organizer"])
    assert result.exit_code == 0 and "already was organizer" in result.output
    result = runner.invoke(args=["users", "revoke", "budi@example.test", "organizer"])
    assert result.exit_code == 0 and "no longer organizer" in result.output
    assert not get_user(app, "budi@example.test").has_role(Role.ORGANIZER)
    result = runner.invoke(args=["users", "revoke", "budi@example.test", "organizer"])
    assert result.exit_code == 0 and "was not organizer" in result.output


def test_cli_refuses_unknown_people_and_roles(app, runner):
    result = runner.invoke(args=["users", "grant", "nobody@example.test", "admin"])
    assert result.exit_code == 1 and "No account uses nobody@example.test." in result.output
    with app.app_context():
        make_user("budi@example.test")
    for role in ("donor", "superuser"):
        result = runner.invoke(args=["users", "grant", "budi@example.test", role])
        assert result.exit_code == 2


def test_the_last_admin_cannot_be_revoked_from_the_command_line(app, runner):
    with app.app_context():
        make_user("admin@example.test", Role.ADMIN)
    result = runner.invoke(args=["users", "revoke", "admin@example.test", "admin"])
    assert result.exit_code == 1
    assert "This is the last admin. Make someone else an admin first." in result.output
    assert get_user(app, "admin@example.test").has_role(Role.ADMIN)
    runner.invoke(args=["users", "grant", "other@example.test", "admin"])  # no such account
    with app.app_context():
        make_user("other@example.test", Role.ADMIN)
    result = runner.invoke(args=["users", "revoke", "admin@example.test", "admin"])
    assert result.exit_code == 0


# ---- demo accounts ----

def test_demo_loader_is_registered_first():
    names = [name for _order, name, _fn in demo._LOADERS]
    assert "accounts" in names
    order = next(o for o, name, _fn in demo._LOADERS if name == "accounts")
    assert order == 10 and order == min(o for o, _n, _f in demo._LOADERS)


def test_demo_accounts_are_idempotent_and_their_printed_passwords_work(app):
    with app.test_request_context():
        lines = cli.load_demo_accounts()
        db.session.commit()
        first = db.session.scalar(db.select(db.func.count()).select_from(User))
        grants = db.session.scalar(db.select(db.func.count()).select_from(UserRole))
        again = cli.load_demo_accounts()
        db.session.commit()
        assert again == lines
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == first == 6
        assert db.session.scalar(db.select(db.func.count()).select_from(UserRole)) == grants == 5
        for email, _name, roles, password in cli.DEMO_ACCOUNTS:
            assert any(email in line and password in line for line in lines)
            user = accounts.authenticate(email, password)
            assert user is not None, email
            assert user.role_names == {Role.DONOR, *roles}
        held = {role for _e, _n, roles, _p in cli.DEMO_ACCOUNTS for role in roles}
        assert held == {Role.ADMIN, Role.ORGANIZER, Role.TREASURER, Role.AUDITOR}


def test_demo_accounts_are_refused_in_production(app):
    app.config["AMANAH_ENV"] = "production"
    try:
        with app.app_context():
            with pytest.raises(click.ClickException) as excinfo:
                cli.load_demo_accounts()
            assert "production" in excinfo.value.message
            assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0
    finally:
        app.config["AMANAH_ENV"] = "testing"
