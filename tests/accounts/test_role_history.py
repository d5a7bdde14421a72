"""The permanent record of role grants and revocations: service, database, migration, pages, CLI."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from accounts import services as accounts
from accounts.models import Role, RoleChange, User, UserRole
from accounts.services import AccountError
from amanah.db import now_utc
from amanah.extensions import db
from tests.conftest import make_app
from tests.factories import login, make_user

EN = {"Accept-Language": "en"}
ID = {"Accept-Language": "id"}
BEFORE = "2b9e6f0c4d71"  # the head before role_changes existed


@pytest.fixture
def ctx(app):
    with app.test_request_context(headers=EN):
        yield app


def changes_of(user_id: int) -> list[tuple[str, str, int | None]]:
    """(action, role, changed_by_id) of a user's role changes, oldest first."""
    rows = db.session.scalars(sa.select(RoleChange).where(RoleChange.user_id == user_id)
                              .order_by(RoleChange.id))
    return [(r.action, r.role, r.changed_by_id) for r in rows]


def count_changes() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RoleChange))


# ---- service ----

def test_grant_and_revoke_each_append_one_row(ctx):
    admin = make_user(None, Role.ADMIN)
    user = make_user()
    assert accounts.grant_role(user, Role.TREASURER, granted_by=admin) is True
    db.session.commit()
    assert changes_of(user.id) == [("granted", "treasurer", admin.id)]
    row = db.session.scalar(sa.select(RoleChange).where(RoleChange.user_id == user.id))
    assert row.changed_by is admin and row.changed_at.tzinfo is not None
    assert row.changed_at == db.session.get(UserRole, (user.id, "treasurer")).granted_at
    assert accounts.revoke_role(user, "treasurer", revoked_by=admin) is True
    db.session.commit()
    assert changes_of(user.id) == [("granted", "treasurer", admin.id), ("revoked", "treasurer", admin.id)]
    history = accounts.role_history(user)
    assert [(c.action, c.role) for c in history] == [("revoked", "treasurer"), ("granted", "treasurer")]


def test_nothing_changed_means_no_row(ctx):
    admin = make_user(None, Role.ADMIN)
    user = make_user(None, Role.AUDITOR)  # held already, made without the service: no history
    assert accounts.grant_role(user, Role.AUDITOR, granted_by=admin) is False
    assert accounts.revoke_role(user, Role.ORGANIZER, revoked_by=admin) is False
    assert accounts.set_roles(user, ["auditor"], changed_by=admin) == (set(), set())
    db.session.commit()
    assert count_changes() == 0


def test_the_command_line_is_recorded_as_nobody(ctx):
    user = make_user()
    accounts.grant_role(user, Role.ORGANIZER)
    db.session.commit()
    assert changes_of(user.id) == [("granted", "organizer", None)]


def test_set_roles_records_every_grant_and_revocation(ctx):
    admin = make_user(None, Role.ADMIN)
    user = make_user(None, Role.AUDITOR)
    accounts.set_roles(user, ["organizer", "treasurer"], changed_by=admin)
    db.session.commit()
    assert sorted(changes_of(user.id)) == [("granted", "organizer", admin.id),
                                           ("granted", "treasurer", admin.id),
                                           ("revoked", "auditor", admin.id)]


def test_a_refused_set_roles_writes_no_history(ctx):
    """The last admin's revocation is refused before anything changes: no row, not even the grant."""
    only = make_user(None, Role.ADMIN, Role.AUDITOR)
    operator = make_user()
    with pytest.raises(AccountError, match="last admin"):
        accounts.set_roles(only, ["organizer"], changed_by=operator)
    assert not [o for o in db.session.new if isinstance(o, RoleChange | UserRole)]
    assert count_changes() == 0  # autoflushed: nothing was pending either
    db.session.rollback()
    assert count_changes() == 0
    assert db.session.get(User, only.id).role_names == {Role.DONOR, Role.ADMIN, Role.AUDITOR}


@pytest.mark.parametrize("statement", [
    "UPDATE role_changes SET action = 'revoked'",
    "UPDATE role_changes SET changed_by_id = NULL",
    "DELETE FROM role_changes",
])
def test_the_database_refuses_changing_the_history(ctx, statement):
    admin = make_user(None, Role.ADMIN)
    user = make_user()
    accounts.grant_role(user, Role.TREASURER, granted_by=admin)
    db.session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text(statement))
    db.session.rollback()
    assert changes_of(user.id) == [("granted", "treasurer", admin.id)]


def test_postgresql_refuses_truncate_even_as_replica(ctx, backend):
    if backend != "postgresql":
        pytest.skip("TRUNCATE and replication roles exist only on PostgreSQL")
    accounts.grant_role(make_user(), Role.TREASURER)
    db.session.commit()
    db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("TRUNCATE role_changes"))
    db.session.rollback()
    db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM role_changes"))
    db.session.rollback()


def test_someone_named_in_the_history_cannot_be_deleted(ctx):
    admin = make_user(None, Role.ADMIN)
    user = make_user()
    accounts.grant_role(user, Role.TREASURER, granted_by=admin)
    db.session.commit()
    for person in (user, admin):
        with pytest.raises(sa.exc.DatabaseError), db.session.begin_nested():
            db.session.execute(sa.delete(User).where(User.id == person.id))


# ---- migration ----

def test_migration_backfills_a_grant_for_every_role_held(empty_database_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    app = make_app(empty_database_url, tmp_path / "i")
    with app.app_context():
        upgrade(revision=BEFORE)
        users = User.__table__
        granted_at = now_utc().replace(microsecond=0)
        admin_id = db.session.execute(sa.insert(users).values(
            email="admin@example.test", display_name="Admin", password_hash="!", created_at=granted_at
        ).returning(users.c.id)).scalar_one()
        user_id = db.session.execute(sa.insert(users).values(
            email="budi@example.test", display_name="Budi", password_hash="!", created_at=granted_at
        ).returning(users.c.id)).scalar_one()
        db.session.execute(sa.insert(UserRole.__table__), [
            {"user_id": admin_id, "role": "admin", "granted_at": granted_at, "granted_by_id": None},
            {"user_id": user_id, "role": "treasurer", "granted_at": granted_at, "granted_by_id": admin_id},
        ])
        db.session.commit()

        upgrade()
        rows = db.session.scalars(sa.select(RoleChange).order_by(RoleChange.user_id)).all()
        assert [(r.user_id, r.role, r.action, r.changed_by_id, r.changed_at) for r in rows] == [
            (admin_id, "admin", "granted", None, granted_at),
            (user_id, "treasurer", "granted", admin_id, granted_at),
        ]
        db.session.commit()

        downgrade(revision=BEFORE)  # and back: the revision undoes itself cleanly
        assert "role_changes" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RoleChange)) == 2
        db.session.remove()
        db.engine.dispose()


# ---- pages ----

def plain(user: User) -> SimpleNamespace:
    """What a test keeps of a user once the app context is gone (enough for `login`)."""
    key = user.get_id()
    return SimpleNamespace(id=user.id, email=user.email, get_id=lambda: key)


def people(app):
    with app.app_context():
        admin = make_user("admin@example.test", Role.ADMIN, name="Dewi Admin")
        user = make_user("budi@example.test", Role.AUDITOR, name="Budi Santoso")
        return plain(admin), plain(user)


def history_rows(page: str) -> list[list[str]]:
    """The cells of each body row of the first role-history table, tags stripped."""
    table = re.search(r'<table class="role-history">.*?</table>', page, re.S).group(0)
    body = re.search(r"<tbody>(.*)</tbody>", table, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_admin_changes_roles_and_sees_the_history(app, client):
    admin, user = people(app)
    login(client, admin)
    response = client.post(f"/admin/users/{user.id}", data={"roles": ["organizer", "treasurer"]})
    assert response.status_code == 303
    page = client.get(f"/admin/users/{user.id}", headers=EN).get_data(as_text=True)
    assert "Role history" in page and "<caption" in page and '<th scope="col">Granted or revoked</th>' in page
    rows = history_rows(page)
    assert len(rows) == 3
    assert sorted(row[1:] for row in rows) == [["Auditor", "Revoked", "Dewi Admin"],
                                               ["Organizer", "Granted", "Dewi Admin"],
                                               ["Treasurer", "Granted", "Dewi Admin"]]
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:.]+\+00:00">', page)
    with app.app_context():
        assert {(a, r) for a, r, by in changes_of(user.id) if by == admin.id} == {
            ("granted", "organizer"), ("granted", "treasurer"), ("revoked", "auditor")}

    # Then an admin revokes one more: it comes first (newest first).
    client.post(f"/admin/users/{user.id}", data={"roles": ["organizer"]})
    rows = history_rows(client.get(f"/admin/users/{user.id}", headers=EN).get_data(as_text=True))
    assert len(rows) == 4 and rows[0][1:] == ["Treasurer", "Revoked", "Dewi Admin"]

    page = client.get(f"/admin/users/{user.id}", headers=ID).get_data(as_text=True)
    assert "Riwayat peran" in page and "Dicabut" in page and "Diberikan" in page and "Bendahara" in page


def test_a_refused_change_through_the_form_leaves_no_history(app, client):
    admin, _user = people(app)
    with app.app_context():
        make_user(None, Role.ADMIN)
    login(client, admin)
    response = client.post(f"/admin/users/{admin.id}", data={"roles": ["organizer"]}, headers=EN)
    assert response.status_code == 422
    with app.app_context():
        assert count_changes() == 0
    page = client.get(f"/admin/users/{admin.id}", headers=EN).get_data(as_text=True)
    assert "No role of this user has been granted or revoked." in page


def test_a_command_line_change_shows_as_such(app, client, runner):
    admin, user = people(app)
    assert runner.invoke(args=["users", "grant", "budi@example.test", "treasurer"]).exit_code == 0
    login(client, admin)
    rows = history_rows(client.get(f"/admin/users/{user.id}", headers=EN).get_data(as_text=True))
    assert [row[1:] for row in rows] == [["Treasurer", "Granted", "Command line"]]
    page = client.get(f"/admin/users/{user.id}", headers=ID).get_data(as_text=True)
    assert "Baris perintah" in page


def test_all_role_changes_newest_first_in_pages(app, client):
    admin, user = people(app)
    with app.test_request_context():
        admin_row, user_row = db.session.get(User, admin.id), db.session.get(User, user.id)
        for _ in range(12):
            accounts.grant_role(user_row, Role.ORGANIZER, granted_by=admin_row)
            accounts.revoke_role(user_row, Role.ORGANIZER, revoked_by=admin_row)
        accounts.grant_role(user_row, Role.ORGANIZER, granted_by=admin_row)
        accounts.grant_role(admin_row, Role.TREASURER)  # 26 changes: one more than a page holds
        db.session.commit()
    login(client, admin)
    page = client.get("/admin/users", headers=EN).get_data(as_text=True)
    assert 'href="/admin/users/role-changes"' in page
    first = client.get("/admin/users/role-changes", headers=EN).get_data(as_text=True)
    rows = history_rows(first)
    assert len(rows) == 25
    assert rows[0][1].startswith("Dewi Admin") and rows[0][2:] == ["Treasurer", "Granted", "Command line"]
    assert rows[1][1].startswith("Budi Santoso") and rows[1][2:] == ["Organizer", "Granted", "Dewi Admin"]
    assert "Page 1 of 2" in first and 'href="/admin/users/role-changes?page=2"' in first
    assert f'href="/admin/users/{user.id}"' in first  # admins can open the user's page from here
    rows = history_rows(client.get("/admin/users/role-changes?page=2", headers=EN).get_data(as_text=True))
    assert rows == [[rows[0][0], "Budi Santoso budi@example.test", "Organizer", "Granted", "Dewi Admin"]]
    page = client.get("/admin/users/role-changes", headers=ID).get_data(as_text=True)
    assert "Perubahan peran" in page and "Halaman 1 dari 2" in page


def test_auditors_read_all_role_changes_but_not_the_admin_pages(app, client):
    admin, user = people(app)
    with app.test_request_context():
        accounts.grant_role(db.session.get(User, user.id), Role.TREASURER,
                            granted_by=db.session.get(User, admin.id))
        db.session.commit()
    login(client, user)  # an auditor
    response = client.get("/admin/users/role-changes", headers=EN)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert history_rows(page)[0][2:] == ["Treasurer", "Granted", "Dewi Admin"]
    assert f'href="/admin/users/{user.id}"' not in page  # the user pages stay admin-only
    assert 'href="/admin/users/role-changes"' in page  # in the account menu
    assert client.get(f"/admin/users/{admin.id}").status_code == 403
    assert client.get("/admin/users").status_code == 403


def test_other_users_are_refused(app, client):
    admin, user = people(app)
    with app.app_context():
        organizer = plain(make_user(None, Role.ORGANIZER, Role.TREASURER))
    login(client, organizer)
    for url in ("/admin/users/role-changes", f"/admin/users/{user.id}", f"/admin/users/{admin.id}"):
        response = client.get(url, headers=ID)
        assert response.status_code == 403
        assert "Anda tidak memiliki izin" in response.get_data(as_text=True)
        assert "Dewi Admin" not in response.get_data(as_text=True)


def test_empty_history(app, client):
    admin, _user = people(app)
    login(client, admin)
    page = client.get("/admin/users/role-changes", headers=EN).get_data(as_text=True)
    assert "No role has been granted or revoked yet." in page


# ---- command line ----

def test_cli_prints_a_users_history_newest_first(app, runner):
    admin, _user = people(app)
    assert runner.invoke(args=["users", "grant", "budi@example.test", "treasurer"]).exit_code == 0
    with app.test_request_context():
        accounts.grant_role(accounts.find_user("budi@example.test"), Role.ORGANIZER,
                            granted_by=db.session.get(User, admin.id))
        db.session.commit()
    assert runner.invoke(args=["users", "revoke", "budi@example.test", "treasurer"]).exit_code == 0
    result = runner.invoke(args=["users", "history", "Budi@example.test"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  (\w+) +(\w+) +by (\S+(?: \S+)*)$")
    assert [line.match(text).groups() for text in lines] == [
        ("revoked", "treasurer", "the command line"),
        ("granted", "organizer", "admin@example.test"),
        ("granted", "treasurer", "the command line"),
    ]


def test_cli_history_of_nobody_and_of_no_changes(app, runner):
    people(app)
    result = runner.invoke(args=["users", "history", "nobody@example.test"])
    assert result.exit_code == 1 and "No account uses nobody@example.test." in result.output
    result = runner.invoke(args=["users", "history", "admin@example.test"])
    assert result.exit_code == 0
    assert "No role of admin@example.test has been granted or revoked." in result.output


# ---- two admins at once ----

@pytest.mark.parametrize("change", ["revoke", "grant"])
def test_two_admins_changing_the_same_roles_at_once_record_one_change(fresh_database_url, tmp_path, change):
    """Both admins loaded the user's roles before either saved: the second must see the first's
    change (one history row, no duplicate-key error), not act on its stale copy."""
    import threading

    from tests.conftest import make_app
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("SQLite transactions hold the write lock from their first read: no stale copy")
    app = make_app(fresh_database_url, tmp_path)
    with app.app_context():
        admins = [make_user(f"admin{n}@example.test", Role.ADMIN) for n in range(2)]
        user = make_user("budi@example.test", *([Role.TREASURER] if change == "revoke" else []))
        db.session.commit()
        admin_ids, user_id = [a.id for a in admins], user.id
    wanted = [] if change == "revoke" else [Role.TREASURER]
    barrier, errors = threading.Barrier(2), []

    def admin_saves(n: int) -> None:
        with app.app_context():
            try:
                target, admin = db.session.get(User, user_id), db.session.get(User, admin_ids[n])
                assert target.role_names  # loaded, as the admin page had it
                barrier.wait(timeout=30)
                accounts.set_roles(target, wanted, changed_by=admin)
                db.session.commit()
            except Exception as exc:  # reported below
                errors.append(exc)
                db.session.rollback()

    threads = [threading.Thread(target=admin_saves, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with app.app_context():
        rows = db.session.scalars(sa.select(RoleChange).where(RoleChange.user_id == user_id)).all()
        held = db.session.get(User, user_id).role_names
        db.session.remove()
        db.engine.dispose()
    assert errors == []
    assert [r.action for r in rows] == ["revoked" if change == "revoke" else "granted"]
    assert (Role.TREASURER in held) == (change == "grant")
