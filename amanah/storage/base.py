"""The contract every file store follows, and what is shared by the backends."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

# A key is a relative path of plain names: `uploads/evidence/<sha256>`, `exports/<token>.zip`.
KEY_PATTERN = re.compile(r"^[a-z][a-z-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")
CHUNK = 1024 * 1024


class StorageUnavailable(RuntimeError):
    """The file store cannot be reached, or refuses us (credentials, a missing bucket)."""


class FileStore(Protocol):
    """Bytes under keys. A write is whole or absent: no reader ever sees half a file."""

    def describe(self) -> str:
        """Where the files go, for messages: a folder, or s3://bucket/prefix."""

    def exists(self, key: str) -> bool:
        """Whether the key holds a file."""

    def put(self, key: str, data: bytes, content_type: str) -> bool:
        """Store `data` unless the key already holds a file (content-addressed keys: the same
        bytes). True when this call wrote it, so that the caller may remove it again if the
        transaction that was to refer to it rolls back."""

    def put_file(self, key: str, path: Path, content_type: str, *, move: bool = False) -> None:
        """Store a finished local file under `key`, replacing what is there. `move` gives the file
        away: the local backend renames it into place, the others upload it and remove it."""

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, to read and close; FileNotFoundError when the key holds nothing."""

    def delete(self, key: str) -> None:
        """Remove the file; nothing happens when there is none."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Every stored key that starts with `prefix`."""

    def send(self, key: str, *, mimetype: str, etag: str, download_name: str | None = None,
             as_attachment: bool = False, max_age: int | None = None):
        """A response carrying the file, conditional on `etag` (the hash that names its bytes);
        FileNotFoundError when the key holds nothing. The caller has checked who may see it."""


def check_key(key: str) -> str:
    """`key` itself, or ValueError: never `..`, an absolute path or a hidden (temporary) file."""
    if not KEY_PATTERN.match(key or "") or "/." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


def sha256_of(store: FileStore, key: str) -> str | None:
    """The SHA-256 of the bytes the store gives back, read in chunks; None when there are none."""
    digest = hashlib.sha256()
    try:
        with store.open(key) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()
