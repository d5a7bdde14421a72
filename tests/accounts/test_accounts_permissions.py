"""Every account and user-admin route against every kind of visitor, in one table."""
from __future__ import annotations

import pytest

from accounts.models import Role, User
from accounts.permissions import Action, can
from amanah.extensions import db
from tests.conftest import World
from tests.factories import login, make_user

VISITORS = ("anonymous", "donor", "owner", "organizer", "treasurer", "auditor", "admin")
# "owner" is the user the admin pages are about (a plain donor); {target} is their id.
# Expected status per visitor, in the order of VISITORS. 302 for an anonymous visitor means "sent to
# the sign-in page"; 302 for a signed-in one means "already signed in, sent on".
TABLE = {
    #                                          anon donor owner  org  treas  aud  admin
    ("GET", "/account/profile"):               (302, 200, 200, 200, 200, 200, 200),
    ("GET", "/account/email"):                 (302, 200, 200, 200, 200, 200, 200),
    ("GET", "/account/password"):              (302, 200, 200, 200, 200, 200, 200),
    ("POST", "/account/profile"):              (302, 303, 303, 303, 303, 303, 303),
    ("GET", "/account/login"):                 (200, 302, 302, 302, 302, 302, 302),
    ("GET", "/account/register"):              (200, 302, 302, 302, 302, 302, 302),
    ("GET", "/account/password/forgot"):       (200, 200, 200, 200, 200, 200, 200),
    ("GET", "/account/password/reset/bogus"):  (400, 400, 400, 400, 400, 400, 400),
    ("GET", "/account/logout"):                (405, 405, 405, 405, 405, 405, 405),
    ("POST", "/account/logout"):               (303, 303, 303, 303, 303, 303, 303),
    ("GET", "/admin/users"):                   (302, 403, 403, 403, 403, 403, 200),
    ("GET", "/admin/users/{target}"):          (302, 403, 403, 403, 403, 403, 200),
    ("POST", "/admin/users/{target}"):         (302, 403, 403, 403, 403, 403, 303),
    ("GET", "/admin/users/999999"):            (302, 403, 403, 403, 403, 403, 404),
    ("GET", "/admin/users/role-changes"):      (302, 403, 403, 403, 403, 200, 200),
}
FORMS = {
    "/account/profile": {"display_name": "Nama Baru", "preferred_language": "", "npwp": "", "nik": ""},
    "/admin/users/{target}": {"roles": ["organizer"]},
}
# The admin routes ask can() alone: whoever it allows gets the page, everyone else is refused.
ACTIONS = {"/admin/users": Action.MANAGE_USERS, "/admin/users/{target}": Action.MANAGE_USERS,
           "/admin/users/999999": Action.MANAGE_USERS, "/admin/users/role-changes": Action.VIEW_ROLE_CHANGES}
CASES = [(method, path, visitor, statuses[i])
         for (method, path), statuses in TABLE.items() for i, visitor in enumerate(VISITORS)]


def _build_world(app) -> dict[str, int]:
    """The account owner and one user of every other kind, built once for the module's cases."""
    with app.app_context():
        target = make_user(name="Pemilik Akun")
        people = {"owner": target, "donor": make_user()}
        for role in (Role.ORGANIZER, Role.TREASURER, Role.AUDITOR, Role.ADMIN):
            people[role.value] = make_user(None, role)
        return {visitor: user.id for visitor, user in people.items()}


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory):
    yield from World.serve(databases, tmp_path_factory, _build_world)


@pytest.fixture
def app(world):
    """The world's app; what a case changes is rolled back before the next."""
    with world.shared.test() as app:
        yield app


@pytest.mark.parametrize(("method", "path", "visitor", "expected"), CASES,
                         ids=[f"{m} {p} as {v}" for m, p, v, _ in CASES])
def test_permissions(app, world, client, method, path, visitor, expected):
    people = world.data
    with app.app_context():
        if visitor != "anonymous":
            login(client, db.session.get(User, people[visitor]))
        url = path.format(target=people["owner"])
        if path in ACTIONS:
            user = db.session.get(User, people[visitor]) if visitor != "anonymous" else None
            assert can(user, ACTIONS[path]) == (expected not in (302, 403))
    response = client.open(url, method=method, data=FORMS.get(path) if method == "POST" else None)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected == 302 and visitor == "anonymous":
        assert response.headers["Location"].startswith("/account/login?next=")
    if expected == 403:
        assert "Anda tidak memiliki izin" in response.get_data(as_text=True)
