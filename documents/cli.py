"""`flask documents ...`: receipts for old donations, and the purge of expired bulk downloads."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from amanah.extensions import db
from documents import bulk, receipts

documents_cli = AppGroup("documents", help="Receipts and other documents.")


@documents_cli.command("issue-missing")
def issue_missing_command():
    """Number receipts for paid donations confirmed before receipts existed (safe to repeat)."""
    serials = receipts.issue_missing_receipts()
    db.session.commit()
    click.echo(f"{len(serials)} receipts issued" + (f": {serials[0]} .. {serials[-1]}" if serials else ""))


@documents_cli.command("purge-exports")
def purge_exports_command():
    """Delete bulk download ZIPs (and their jobs) older than EXPORT_RETENTION_DAYS; for cron."""
    count = bulk.purge_expired()
    db.session.commit()
    click.echo(f"{count} bulk downloads purged")
