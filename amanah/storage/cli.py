"""`flask storage migrate`: copy the instance folder's files into the bucket, verifying each."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from amanah import storage
from amanah.storage.local import LocalStore
from amanah.storage.migrate import migrate


@click.group("storage")
def storage_command():
    """Where uploaded files and bulk ZIPs are kept."""


@storage_command.command("migrate")
@click.option("--from", "source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The instance folder to copy from (default: this app's).")
@click.option("--verbose", "-v", is_flag=True, help="Name every file copied.")
@with_appcontext
def migrate_command(source: Path | None, verbose: bool):
    """Copy uploads/ and exports/ of an instance folder into the bucket STORAGE_URL names, then
    read each file back from the bucket and compare its SHA-256. Safe to repeat: files already
    there with the right hash are skipped. Exits 1 when any file does not match."""
    target = storage.current()
    if isinstance(target, LocalStore):
        raise click.UsageError("STORAGE_URL names no bucket: set STORAGE_URL=s3://bucket/prefix "
                               "(and S3_ENDPOINT_URL unless it is AWS) to migrate to it.")
    source = source or Path(current_app.instance_path)
    try:
        result = migrate(source, target, click.echo if verbose else lambda line: None)
    except storage.StorageUnavailable as exc:
        click.echo(f"FAILED: the bucket cannot be used: {exc}", err=True)
        sys.exit(1)
    for problem in result.mismatched:
        click.echo(f"MISMATCH {problem}", err=True)
    click.echo(f"{source} -> {target.describe()}: {len(result.copied)} copied, {len(result.already)} "
               f"already there, {len(result.mismatched)} mismatched; every hash read back from the bucket")
    if not result.ok:
        sys.exit(1)
