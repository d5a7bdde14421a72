"""`flask users ...` for operators, and the demo accounts that `flask demo` loads."""
from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from accounts import services, verification
from accounts.models import GRANTABLE_ROLES, Role
from amanah.extensions import db

users_cli = AppGroup("users", help="Manage accounts and their roles.")
PASSWORD_ENV = "AMANAH_ADMIN_PASSWORD"  # noqa: S105 (the variable's name, not a password)
ROLE_CHOICE = click.Choice([role.value for role in GRANTABLE_ROLES])


def _policy_checked(email: str):
    def check(value: str) -> str:
        try:
            return services.check_new_password(value, email)
        except services.AccountError as exc:
            raise click.UsageError(str(exc)) from None
    return check


def _read_password(email: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    return click.prompt("Password", hide_input=True, confirmation_prompt=True,
                        value_proc=_policy_checked(email))


def _user_or_fail(email: str):
    user = services.find_user(email)
    if user is None:
        raise click.ClickException(f"No account uses {email}.")
    return user


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", help="The admin's display name (asked for when omitted).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
def create_admin_command(email: str, name: str | None, password_stdin: bool):
    """Create an admin account.

    The password is asked for twice, read from standard input with --password-stdin, or taken from
    the AMANAH_ADMIN_PASSWORD environment variable; it never goes on the command line.
    """
    if password_stdin and not name:
        raise click.UsageError("--password-stdin needs --name, since standard input holds the password.")
    with force_locale("en"):
        name = name or click.prompt("Name")
        password = _read_password(email, password_stdin)
        try:
            user = services.create_admin(email, name, password)
        except services.AccountError as exc:
            db.session.rollback()
            hint = " To make an existing account an admin: flask users grant EMAIL admin." \
                if "email" in exc.errors else ""
            raise click.ClickException(str(exc) + hint) from None
        db.session.commit()
    click.echo(f"Created the admin account {user.email}.")


@users_cli.command("grant")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def grant_command(email: str, role: str):
    """Give the account with EMAIL a ROLE."""
    user = _user_or_fail(email)
    changed = services.grant_role(user, role)
    db.session.commit()
    click.echo(f"{user.email} is now {role}." if changed else f"{user.email} already was {role}.")


@users_cli.command("revoke")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def revoke_command(email: str, role: str):
    """Take ROLE away from the account with EMAIL (never from the last admin)."""
    user = _user_or_fail(email)
    with force_locale("en"):
        try:
            changed = services.revoke_role(user, role)
        except services.AccountError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"{user.email} is no longer {role}." if changed else f"{user.email} was not {role}.")


@users_cli.command("history")
@click.argument("email")
def history_command(email: str):
    """Print every grant and revocation of the roles of the account with EMAIL, newest first."""
    user = _user_or_fail(email)
    changes = services.role_history(user)
    if not changes:
        click.echo(f"No role of {user.email} has been granted or revoked.")
    for change in changes:
        by = change.changed_by.email if change.changed_by else "the command line"
        at = f"{change.changed_at:%Y-%m-%d %H:%M:%S} UTC"
        click.echo(f"{at}  {change.action:<7}  {change.role:<9}  by {by}")


# Fixed, published passwords so that whoever runs `make run` can sign in as each role.
# They exist only outside production: the loader refuses to run there.
DEMO_ACCOUNTS: tuple[tuple[str, str, tuple[Role, ...], str], ...] = (
    ("dewi.lestari@amanah.test", "Dewi Lestari", (Role.ADMIN,), "demo-admin-2026"),
    ("budi.santoso@amanah.test", "Budi Santoso", (Role.ORGANIZER,), "demo-organizer-2026"),
    ("rina.wulandari@amanah.test", "Rina Wulandari", (Role.ORGANIZER,), "demo-organizer-2026"),
    ("agus.pratama@amanah.test", "Agus Pratama", (Role.TREASURER,), "demo-treasurer-2026"),
    ("maya.kusuma@amanah.test", "Maya Kusuma", (Role.AUDITOR,), "demo-auditor-2026"),
    ("putri.handayani@amanah.test", "Putri Handayani", (), "demo-donor-2026"),
)


def load_demo_accounts() -> list[str]:
    """Create the demo accounts that are missing; print how to sign in as each."""
    if current_app.config["AMANAH_ENV"] == "production":
        raise click.ClickException("Refusing to create demo accounts with AMANAH_ENV=production.")
    lines = ["Demo accounts (a password someone has since changed stays changed):"]
    for email, name, roles, password in DEMO_ACCOUNTS:
        user = services.find_user(email)
        if user is None:
            user = services.register_user(email, name, password, preferred_language="id",
                                          verify_by_mail=False)
        verification.mark_verified(user)  # a demo address receives no mail: taken as proven
        for role in roles:
            services.grant_role(user, role)
        kind = ", ".join(role.value for role in roles) or Role.DONOR.value
        lines.append(f"  {kind:<10} {email:<30} password: {password}")
    return lines
