"""Admin pages: find users, grant or revoke their roles, and the history of every such change."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts import forms, services
from accounts.models import GRANTABLE_ROLES, Role, User
from accounts.permissions import Action, permission_required
from accounts.views import INVALID, show_errors
from amanah.extensions import db

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")


@bp.get("")
@permission_required(Action.MANAGE_USERS)
def index():
    query = request.args.get("q", "").strip()[:100]
    role = request.args.get("role", "")
    if role not in {r.value for r in GRANTABLE_ROLES}:
        role = ""
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    users = services.search_users(query, role=role or None, page=page)
    return render_template("accounts/admin/users.html", users=users, query=query, role=role,
                           roles=GRANTABLE_ROLES)


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@permission_required(Action.MANAGE_USERS)
def detail(user_id: int):
    user = db.get_or_404(User, user_id)
    held = sorted(r.value for r in user.role_names if r != Role.DONOR)
    form = forms.UserRolesForm(roles=held)
    if form.validate_on_submit():
        try:
            granted, revoked = services.set_roles(user, form.roles.data or [],
                                                  changed_by=current_user._get_current_object())
        except services.AccountError as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            if granted or revoked:
                flash(_("The roles of %(name)s have been saved.", name=user.display_name), "success")
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for("admin_users.detail", user_id=user.id), 303)
    status = INVALID if request.method == "POST" else 200
    return render_template("accounts/admin/user.html", user=user, form=form,
                           granters=services.granters(user), descriptions=forms.ROLE_DESCRIPTIONS,
                           granted={r.role: r for r in user.roles},
                           history=services.role_history(user)), status


@bp.get("/role-changes")
@permission_required(Action.VIEW_ROLE_CHANGES)
def role_changes():
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    return render_template("accounts/admin/role_changes.html", changes=services.role_changes(page=page))
