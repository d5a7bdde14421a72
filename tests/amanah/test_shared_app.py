"""The app that tests share (tests/conftest.py SharedApp) comes back to each test as it was built."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah.extensions import db, login_manager
from tests.factories import make_user


def test_what_a_test_changes_on_the_shared_app_is_put_back(shared_app):
    with shared_app.test() as app:
        config = copy.deepcopy(dict(app.config))
        instance = sorted(path.name for path in Path(app.instance_path).iterdir())
        login_view = login_manager.login_view
        app.config["AMANAH_ENV"] = "production"
        app.config["NEW_SETTING"] = 1
        app.config["DONATION_LIMITS"].clear()  # changed in place, not replaced
        app.extensions["ledger.fragments"] = object()
        (Path(app.instance_path) / "outbox").mkdir()
        (Path(app.instance_path) / "outbox" / "mail.eml").write_text("x")
        login_manager.login_view = "elsewhere"
        with app.app_context():
            make_user("left@example.test")
    with shared_app.test() as app:
        assert dict(app.config) == config
        assert "ledger.fragments" not in app.extensions
        assert sorted(path.name for path in Path(app.instance_path).iterdir()) == instance
        assert login_manager.login_view == login_view
        with app.app_context():
            assert db.session.scalar(sa.select(User).filter_by(email="left@example.test")) is None


@pytest.mark.own_app
def test_a_test_marked_own_app_gets_an_app_of_its_own(app, shared_app):
    assert app is not shared_app.app
