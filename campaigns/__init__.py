"""Campaigns: what organizers raise money for, their lifecycle, updates, browsing and API."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from amanah import openapi as site_openapi
from amanah.nav import register_nav


def init_app(app) -> None:
    """Blueprints, the `flask campaigns` commands, the nav entry, demo data and template helpers.

    `feeds` is imported for its side effect: it adds the Atom route to views.bp before registration.
    """
    from campaigns import (  # noqa: F401
        api,
        cli,
        demo,
        feeds,
        home,
        indicators,
        ledger_names,
        lifecycle,
        openapi,
        organization_demo,
        organization_pages,
        rendering,
        search,
        services,
        views,
    )

    app.register_blueprint(views.bp)
    ledger_names.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.organizations_bp)
    app.register_blueprint(organization_pages.bp)
    app.cli.add_command(cli.campaigns_cli)
    register_nav(app, "campaigns.index", _l("Campaigns"), order=10)
    demo.register()
    organization_demo.register()
    home.register(app)
    openapi.register()
    site_openapi.init_app(app)
    app.jinja_env.globals.update(
        excerpt=rendering.plain_excerpt,
        indicator_value=indicators.format_value,
        days_left=services.days_left,
        # A campaign with its totals, for pages of other packages that show its progress (giving).
        campaign_card=lambda campaign: search.Card(campaign, search.totals_for(campaign)),
        status_label=lambda code: str(lifecycle.STATUS_LABELS[lifecycle.Status(code)]),
        transition_label=lambda name: str(lifecycle.TRANSITION_LABELS.get(name, lifecycle.CREATED_LABEL)),
    )
