"""Documents: what Amanah issues on paper.

Receipts, credit notes and cancellations (numbered once, rendered once, kept for good), donor
statements and campaign financial reports, bulk ZIP downloads, and the pieces they are made of:
PDF rendering, QR codes and amounts in words.
"""


def init_app(app) -> None:
    from accounts.permissions import Action, can
    from documents import bulk, cli, models, statements, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.documents_cli)
    assert models.Document  # the document tables are part of the metadata that migrations compare
    app.jinja_env.globals.update(documents_by_donation=statements.documents_by_donation,
                                 statement_default_range=statements.default_range,
                                 job_status_label=bulk.status_label)
    # The campaign page's report and bulk-download links; thin names over can() until that page
    # gets its panels from a registry.
    app.jinja_env.globals.update(
        can_see_campaign_report=lambda user, campaign: can(user, Action.VIEW_CAMPAIGN_REPORT, campaign),
        can_bulk_download=lambda user, campaign: can(user, Action.BULK_DOWNLOAD, campaign))
