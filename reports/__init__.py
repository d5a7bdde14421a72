"""Progress reports: what a campaign achieved, anchored in the public ledger as `report` entries.

Above campaigns and treasury: a report gives values for a campaign's indicators and may account
for its disbursements."""
from amanah.demo import demo_loader


def init_app(app) -> None:
    from reports import demo, ledger_references, models, panels, services, views

    app.register_blueprint(views.bp)
    assert models.ProgressReport  # part of the metadata that migrations compare
    panels.register(app)
    ledger_references.init_app(app)
    # After the disbursements (40) a report accounts for, before the closing campaigns (50).
    demo_loader(order=45, name="progress reports")(demo.load_demo_outcomes)
    # The ledger's entry page asks (when reports is installed) which report a `report` entry anchors.
    app.jinja_env.globals["report_anchored_by"] = services.anchored_by
