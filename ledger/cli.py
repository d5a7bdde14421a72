"""`flask ledger ...`: verify, export, checkpoint, keygen."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from amanah.extensions import db
from ledger import audit, checkpoints, consistency, note, references, storage, witnesses


@click.group("ledger")
def ledger_cli():
    """The public ledger."""


@ledger_cli.command("verify")
@with_appcontext
def verify_command():
    """Check every leaf, the hash chain, the stored tree hashes, the checkpoints, the campaigns'
    running totals and every row that points at an entry."""
    def progress(done: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{done:,} entries checked", err=True, nl=False)

    result = audit.verify_database(db.session, checkpoints.verifier_key_text(),
                                   current_app.config["LEDGER_ORIGIN"], progress,
                                   references.sources(current_app))
    if sys.stderr.isatty():
        click.echo("", err=True)
    if not result.ok:
        where = f"seq {result.bad_seq}: " if result.bad_seq is not None else ""
        click.echo(f"FAILED at {where}{result.problem}", err=True)
        for problem in result.notes:
            click.echo(f"FAILED: {problem}", err=True)
        sys.exit(1)
    click.echo(f"OK: {result.size} entries, chain, tree hashes and {result.checkpoints} checkpoints "
               "verified, and the campaign totals and references agree with them")


@ledger_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@with_appcontext
def export_command(path: str):
    """Write the leaves, one per line, byte-exact (as GET /ledger/export.jsonl)."""
    size = storage.size(db.session)
    with click.open_file(path, "wb") as out:
        for leaf in storage.iter_leaves(db.session, 0, size):
            out.write(leaf + b"\n")
    click.echo(f"exported {size} entries", err=True)


@ledger_cli.command("checkpoint")
@with_appcontext
def checkpoint_command():
    """Sign a checkpoint for the current size (if none exists) and print it."""
    try:
        cp = checkpoints.checkpoint_for_current_size(db.session)
    except consistency.CheckpointRefused as exc:
        click.echo(f"REFUSED: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(cp.note, nl=False)


@ledger_cli.command("keygen")
@click.option("--name", help="Key name; defaults to LEDGER_ORIGIN.")
@with_appcontext
def keygen_command(name: str | None):
    """Print a new Ed25519 signing key (keep it secret) and its public verifier key."""
    name = name or current_app.config["LEDGER_ORIGIN"]
    try:
        signing, verifier = note.generate_key(name)
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
    click.echo("# LEDGER_SIGNING_KEY (secret):")
    click.echo(signing)
    click.echo("# verifier key (public, served at /ledger/key):")
    click.echo(verifier)


@ledger_cli.command("push-witnesses")
@with_appcontext
def push_witnesses_command():
    """Send the newest checkpoint to every LEDGER_WITNESSES witness that has not cosigned it
    (the app also does this in the background); exit 1 if one did not cosign."""
    checkpoints.checkpoint_for_current_size(db.session)
    db.session.commit()
    results = witnesses.push(db.session)
    for name, outcome in results.items():
        click.echo(f"{name}: {outcome}")
    if any(outcome != "cosigned" for outcome in results.values()):
        sys.exit(1)
