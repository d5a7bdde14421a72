"""`flask campaigns ...`: maintenance commands."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from amanah.extensions import db
from campaigns import services

campaigns_cli = AppGroup("campaigns", help="Campaign maintenance.")


@campaigns_cli.command("close-expired")
def close_expired_command():
    """Close every published campaign whose deadline has passed (recorded as done by the system)."""
    closed = services.close_expired()
    db.session.commit()
    for campaign in closed:
        click.echo(f"closed {campaign.public_id} {campaign.title}")
    click.echo(f"{len(closed)} campaign(s) closed.")
