"""Progress reports: what a campaign achieved, anchored in the public ledger as `report` entries.

Above campaigns and treasury: a report gives values for a campaign's indicators and may account
for its disbursements."""


def init_app(app) -> None:
    from reports import ledger_references, models, panels, services, views

    app.register_blueprint(views.bp)
    assert models.ProgressReport  # part of the metadata that migrations compare
    panels.register(app)
    ledger_references.init_app(app)
    # The ledger's entry page asks (when reports is installed) which report a `report` entry anchors.
    app.jinja_env.globals["report_anchored_by"] = services.anchored_by
