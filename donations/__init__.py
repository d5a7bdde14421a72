"""Donors and their accounts, payments, receipts."""


def init_app(app) -> None:
    from amanah.demo import demo_loader
    from donations import dashboard, giving_views, payments, sandbox, webhooks
    from donations.gateway import is_sandbox

    app.register_blueprint(giving_views.bp)
    app.register_blueprint(webhooks.bp)
    assert payments.Donation  # the giving tables are part of the metadata that migrations compare
    demo_loader(order=30, name="donations")(sandbox.load_demo_donations)
    app.jinja_env.globals["recent_donations"] = dashboard.recent_donations
    app.jinja_env.globals["payment_sandbox"] = is_sandbox
    app.jinja_env.globals.update(donation_status_label=dashboard.donation_status_label,
                                 refund_status_label=dashboard.refund_status_label,
                                 document_kind_label=dashboard.document_kind_label)
