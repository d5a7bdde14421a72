"""permission_required() for views and user_can() for templates: both answer as can() does."""
from __future__ import annotations

import pytest
from flask import render_template_string
from flask_login import login_user
from werkzeug.exceptions import Forbidden, NotFound

from accounts.models import Role
from accounts.permissions import Action, can, permission_required
from tests.factories import make_user


def _ok(**_kwargs):
    return "ok"


def test_a_guarded_view_lets_in_whoever_can(app):
    with app.test_request_context("/"):
        login_user(make_user(None, Role.ADMIN))
        assert permission_required(Action.MANAGE_USERS)(_ok)() == "ok"


def test_a_guarded_view_sends_the_anonymous_to_sign_in(app):
    with app.test_request_context("/admin/users"):
        response = permission_required(Action.MANAGE_USERS)(_ok)()
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/login?next=")


@pytest.mark.parametrize(("hide", "refusal"), [(False, Forbidden), (True, NotFound)])
def test_a_guarded_view_refuses_the_other_user_with_403_or_hides_with_404(app, hide, refusal):
    with app.test_request_context("/"):
        login_user(make_user(None, Role.AUDITOR))
        assert permission_required(Action.VIEW_ROLE_CHANGES, hide=hide)(_ok)() == "ok"
        with pytest.raises(refusal):
            permission_required(Action.MANAGE_USERS, hide=hide)(_ok)()


def test_a_guarded_view_loads_its_object_and_answers_404_when_there_is_none(app):
    with app.test_request_context("/"):
        admin = make_user(None, Role.ADMIN)
        other = make_user()
        login_user(other)
        donor_document = type("Doc", (), {"user_id": other.id, "campaign": None})()
        seen = []

        def load(serial):
            seen.append(serial)
            return donor_document if serial == "mine" else None

        guarded = permission_required(Action.VIEW_DONATION_DOCUMENT, load=load)(_ok)
        assert guarded(serial="mine") == "ok"
        with pytest.raises(NotFound):
            guarded(serial="missing")
        assert seen == ["mine", "missing"]
        assert can(admin, Action.VIEW_DONATION_DOCUMENT, donor_document)


def test_templates_ask_user_can_for_the_signed_in_user(app):
    template = "{{ user_can(Action.MANAGE_USERS) }} {{ user_can('view_role_changes') }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "False False"
        login_user(make_user(None, Role.AUDITOR))
        assert render_template_string(template) == "False True"
