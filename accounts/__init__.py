"""Accounts: who people are on Amanah and what they may do.

Users, roles and their history, sign-in and sign-out, password reset, profile, the admin pages that
grant and revoke roles, and `flask users`.
"""
from flask_babel import lazy_gettext as _l

from amanah.demo import demo_loader
from amanah.extensions import login_manager


def init_app(app) -> None:
    from accounts import admin_views, auth, cli, forms, permissions, views

    assert auth.load_user  # registers the user loader with Flask-Login
    permissions.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin_views.bp)
    app.cli.add_command(cli.users_cli)
    demo_loader(order=10, name="accounts")(cli.load_demo_accounts)
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    app.jinja_env.globals["role_label"] = forms.role_label
