"""Documents: what Amanah issues on paper.

Receipts, credit notes and cancellations (numbered once, rendered once, kept for good), donor
statements and campaign financial reports, bulk ZIP downloads, and the pieces they are made of:
PDF rendering, QR codes and amounts in words.
"""
from donations import dashboard, issuing


def init_app(app) -> None:
    from documents import bulk, cli, models, panels, receipts, signing, statements, views

    app.register_blueprint(views.bp)
    issuing.register(app, issuing.DocumentIssuer(
        receipt=receipts.issue_receipt, credit_note=receipts.issue_credit_note,
        cancellation=receipts.issue_cancellation, documents_of=receipts.documents_of,
        receipts=receipts.issue_receipts))
    app.cli.add_command(cli.documents_cli)
    assert models.Document  # the document tables are part of the metadata that migrations compare
    app.jinja_env.globals.update(statement_default_range=statements.default_range,
                                 job_status_label=bulk.status_label, document_signing_key=signing.signing_key)
    dashboard.register_documents_lookup(app, statements.documents_by_donation)
    panels.register(app)
    if app.config["AMANAH_ENV"] == "production":
        signing.check_configured(app)  # a missing or locked key stops the start, naming the setting
