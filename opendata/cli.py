"""`flask opendata rebuild-aggregates`: count the aggregates again from the ledger and compare."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from amanah.extensions import db
from ledger import storage
from opendata import aggregates


@click.group("opendata")
def opendata_cli():
    """The open-data aggregates behind /data."""


@opendata_cli.command("rebuild-aggregates")
@click.option("--write", is_flag=True, help="Replace the stored aggregates by the recount.")
@with_appcontext
def rebuild_command(write: bool):
    """Recount every bucket from the ledger's entries and compare it with the stored aggregates;
    exits 1 when they differ (and --write was not given)."""
    storage.lock(db.session)  # no append between reading the entries and reading or writing the rows
    size = storage.size(db.session)
    tally = aggregates.recount(db.session)
    problems = aggregates.differences(aggregates.stored_rows(db.session), tally.rows)
    for line in problems:
        click.echo(f"DIFFERS: {line}", err=True)
    if write:
        aggregates.rewrite(db.session, tally)
        db.session.commit()
        click.echo(f"rewrote {len(tally.rows)} buckets from {size} entries"
                   f"{f' ({len(problems)} differed)' if problems else ''}")
        return
    db.session.rollback()
    if problems:
        click.echo(f"{len(problems)} buckets differ from the {size} entries; "
                   "`flask opendata rebuild-aggregates --write` replaces them", err=True)
        sys.exit(1)
    click.echo(f"OK: {len(tally.rows)} buckets agree with the {size} entries")
