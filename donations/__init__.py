"""Donors and their accounts, payments, receipts."""


def init_app(app) -> None:
    from amanah.demo import demo_loader
    from donations import dashboard as giving_dashboard
    from donations import giving_views, payments, webhooks

    app.register_blueprint(giving_views.bp)
    app.register_blueprint(webhooks.bp)
    app.jinja_env.globals["recent_donations"] = giving_dashboard.recent_donations
    from donations.gateway import is_sandbox
    app.jinja_env.globals["payment_sandbox"] = is_sandbox
    assert payments.Donation  # the giving tables are part of the metadata that migrations compare
    from donations import disbursement_api, disbursement_views
    disbursement_views.init_app(app)
    disbursement_api.init_app(app)
    from donations import sandbox
    demo_loader(order=30, name="donations")(sandbox.load_demo_donations)
    from donations import disbursement_demo
    demo_loader(order=40, name="disbursements")(disbursement_demo.load_demo_disbursements)
    from donations import dashboard
    app.jinja_env.globals.update(donation_status_label=dashboard.donation_status_label,
                                 refund_status_label=dashboard.refund_status_label,
                                 document_kind_label=dashboard.document_kind_label)
