"""`flask payments reconcile`: compare the ledger with every configured payment provider."""
from __future__ import annotations

import datetime as dt
import re
import sys
import zoneinfo

import click
from flask.cli import with_appcontext

from amanah.db import now_utc
from donations import reconciliation

WIB = zoneinfo.ZoneInfo("Asia/Jakarta")
_DURATION = re.compile(r"^(\d{1,4})([dh])$")


def parse_since(value: str) -> dt.datetime:
    """`2026-12-01` (midnight WIB, the day as Indonesians count it), an ISO time with its offset,
    or a duration back from now: `3d`, `12h`."""
    value = value.strip()
    if match := _DURATION.match(value):
        unit = {"d": "days", "h": "hours"}[match.group(2)]
        return now_utc() - dt.timedelta(**{unit: int(match.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), WIB).astimezone(dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("give a date (2026-12-01), an ISO time with its offset, or 3d / 12h",
                                 param_hint="--since") from None
    if moment.tzinfo is None:
        raise click.BadParameter("an ISO time needs its UTC offset (e.g. +07:00)", param_hint="--since")
    return moment.astimezone(dt.UTC)


@click.group("payments")
def payments_cli():
    """The payment providers."""


@payments_cli.command("reconcile")
@click.option("--since", "since_text", metavar="WHEN",
              help="Start of the window: a date (midnight WIB), an ISO time, or 3d / 12h. Default: 3d.")
@with_appcontext
def reconcile_command(since_text: str | None):
    """Apply what the providers did and the ledger lacks; exit 1 listing what cannot be settled.

    Run it from cron every few minutes (see the README): it is idempotent, and a run overlapping a
    webhook changes nothing twice."""
    since = parse_since(since_text) if since_text else None
    runs = reconciliation.reconcile(since)
    unsettled = 0
    for run in runs:
        click.echo(f"{run.provider}: since {run.since:%Y-%m-%d %H:%M} UTC, {run.checked} checked, "
                   f"{run.applied} applied, {len(run.unsettled)} unsettled")
        for item in run.unsettled:
            click.echo(f"  UNSETTLED {item['object']}: {item['reason']}", err=True)
        unsettled += len(run.unsettled)
    if unsettled:
        sys.exit(1)
