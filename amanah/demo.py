"""`flask demo`: each package registers a loader; every loader must be idempotent."""
from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext

from amanah.extensions import db

# (order, name, loader); loaders run in order so campaigns can rely on the accounts before them.
_LOADERS: list[tuple[int, str, Callable[[], list[str]]]] = []


def demo_loader(order: int, name: str):
    """Register a function that loads demo data and returns lines to print (e.g. passwords)."""
    def register(fn):
        if all(existing != name for _, existing, _ in _LOADERS):
            _LOADERS.append((order, name, fn))
            _LOADERS.sort(key=lambda item: item[0])
        return fn
    return register


def run_loaders() -> list[str]:
    lines: list[str] = []
    for _order, _name, loader in _LOADERS:
        lines.extend(loader() or [])
        db.session.commit()
    return lines


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo data (safe to run again: nothing is duplicated)."""
    if not _LOADERS:
        click.echo("No demo data is defined yet.")
        return
    for line in run_loaders():
        click.echo(line)
    click.echo("Demo data is loaded.")
