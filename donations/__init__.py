"""Donations: giving money to a campaign.

The donate form and checkout, the payment providers behind one contract (Stripe, and the sandbox
when no key is set), their webhooks, refunds, disputes, fees, balances, and the donor's dashboard.
"""
from amanah.demo import demo_loader


def init_app(app) -> None:
    from donations import (
        cli,
        confirmations,
        dashboard,
        demo,
        ledger_references,
        models,
        panels,
        reconciliation_views,
        views,
        webhooks,
    )
    from donations.giving import confirm_with
    from donations.providers import is_sandbox

    app.register_blueprint(views.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(reconciliation_views.bp)
    app.cli.add_command(cli.payments_cli)
    assert models.Donation  # the giving tables are part of the metadata that migrations compare
    demo_loader(order=30, name="donations")(demo.load_demo_donations)
    panels.register(app)
    confirm_with(app, confirmations.confirm)
    ledger_references.init_app(app)
    dashboard.init_app(app)
    app.jinja_env.globals["payment_sandbox"] = is_sandbox
    app.jinja_env.globals.update(donation_status_label=dashboard.donation_status_label,
                                 refund_status_label=dashboard.refund_status_label,
                                 document_kind_label=dashboard.document_kind_label,
                                 anomaly_kind_label=dashboard.anomaly_kind_label,
                                 diagnosis=dashboard.diagnosis,
                                 payment_method_label=dashboard.payment_method_label,
                                 reported_money=dashboard.reported_money)
