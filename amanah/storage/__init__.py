"""Where uploaded and generated files live: the instance folder, or an S3-compatible bucket.

Evidence, organizations' verification papers, campaign covers and bulk download ZIPs all go
through one small contract (`base.FileStore`), under keys that are paths relative to the instance
folder: `uploads/evidence/<sha256>`, `uploads/organization-documents/<sha256>`,
`uploads/covers/<sha256>.webp`, `exports/<token>.zip`. `STORAGE_URL` chooses the backend:

- unset: the instance folder itself (`local.LocalStore`), the same paths as always, so existing
  instance folders keep working;
- `s3://bucket/prefix`: that bucket through boto3 (`s3.S3Store`), the same keys under the prefix,
  at `S3_ENDPOINT_URL` with the standard AWS credential variables.

The store only keeps bytes. What a file is called (its hash), what is removed from it first (a
photo's metadata), who may see it and when it is withheld stay with the callers (amanah.evidence,
campaigns.images, documents.bulk and their views). They write the object first, under its
content address, and the row that refers to it afterwards, so that a row never names a file
that is not there; a file whose row then rolls back is removed again (amanah.transactions).
A store that cannot be reached raises StorageUnavailable, answered 503 with Retry-After.
`flask storage migrate` copies an instance folder into the bucket (cli.py).
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app

from amanah.storage.base import FileStore, StorageUnavailable, check_key, sha256_of
from amanah.storage.local import LocalStore
from amanah.storage.s3 import S3Store

__all__ = ["FileStore", "LocalStore", "S3Store", "StorageUnavailable", "check_key", "current", "read",
           "sha256_of", "store_for"]


def store_for(app) -> FileStore:
    """The store `app`'s configuration names."""
    url = app.config.get("STORAGE_URL")
    if not url:
        return LocalStore(Path(app.instance_path))
    return S3Store.from_url(url, app.config.get("S3_ENDPOINT_URL"))


def current() -> FileStore:
    return store_for(current_app)


def read(key: str) -> bytes:
    """The stored bytes (FileNotFoundError when there are none)."""
    with current().open(key) as f:
        return f.read()
