"""Staff reach their work from the menu under their name, each role what it may do (user_can)."""
from __future__ import annotations

import re

import pytest

from accounts.models import Role
from tests.factories import login, make_user

WORK = {"/donations/mine", "/campaigns/mine", "/campaigns/review/", "/treasury/", "/admin/users",
        "/admin/users/role-changes", "/payments/reconciliation", "/admin/organizations"}


def _menu_links(html: str) -> set[str]:
    menu = re.search(r'<nav class="account-menu".*?</nav>', html, re.S).group(0)
    return set(re.findall(r'<a href="([^"]+)"', menu)) & WORK


@pytest.mark.parametrize(("roles", "expected"), [
    ((), {"/donations/mine"}),
    ((Role.ORGANIZER,), {"/donations/mine", "/campaigns/mine"}),
    ((Role.TREASURER,), {"/donations/mine", "/treasury/"}),
    ((Role.AUDITOR,), {"/donations/mine", "/admin/users/role-changes", "/payments/reconciliation"}),
    ((Role.ADMIN,), {"/donations/mine", "/campaigns/review/", "/treasury/", "/admin/users",
                     "/admin/users/role-changes", "/payments/reconciliation", "/admin/organizations"}),
    ((Role.ORGANIZER, Role.TREASURER), {"/donations/mine", "/campaigns/mine", "/treasury/"}),
])
def test_the_account_menu_holds_each_roles_work(app, client, roles, expected):
    with app.app_context():
        login(client, make_user(None, *roles))
    for path in ("/", "/ledger", "/campaigns/"):  # the same menu on every page, framed or not
        assert _menu_links(client.get(path).get_data(as_text=True)) == expected, path


def test_visitors_get_sign_in_and_register_and_no_work_links(client):
    html = client.get("/").get_data(as_text=True)
    menu = re.search(r'<nav class="account-menu".*?</nav>', html, re.S).group(0)
    assert 'href="/account/login"' in menu and 'href="/account/register"' in menu
    assert _menu_links(html) == set()
