"""Copy an instance folder's files into another store (a bucket), checking every hash.

Each file is hashed where it is, copied unless the store already gives back the same bytes, and
read back from the store to compare hashes again: nothing counts as copied until the store has
returned exactly what the folder holds. Content-addressed files (`uploads/<kind>/<sha256>`,
`uploads/covers/<sha256>.webp`) must also match their own names; one that does not is damaged
and is not copied. Run it again at will: what is already there with the right hash is skipped.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from amanah.storage.base import CHUNK, FileStore, check_key, sha256_of

FOLDERS = ("uploads", "exports")  # what the store holds; the rest of the instance folder stays
NAMED_BY_HASH = re.compile(r"^uploads/[a-z-]+/(?P<sha256>[0-9a-f]{64})(\.webp)?$")
MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
         (b"PK\x03\x04", "application/zip"))


@dataclass
class Migration:
    copied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: why"

    @property
    def ok(self) -> bool:
        return not self.mismatched


def local_files(source: Path) -> Iterator[tuple[str, Path]]:
    """(key, path) of every finished file under the folders the store holds, by key."""
    for folder in FOLDERS:
        for path in sorted((source / folder).rglob("*")):
            key = path.relative_to(source).as_posix()
            if path.is_file() and not path.name.startswith(".") and path.suffix != ".part":
                yield key, path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_type(path: Path) -> str:
    if path.suffix == ".webp":
        return "image/webp"
    with path.open("rb") as f:
        head = f.read(8)
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), "application/octet-stream")


def migrate(source: Path, target: FileStore, report: Callable[[str], None] = lambda line: None) -> Migration:
    """Copy `source`'s files into `target`; StorageUnavailable if the store cannot be reached."""
    result = Migration()
    for key, path in local_files(source):
        try:
            check_key(key)
        except ValueError:
            result.mismatched.append(f"{key}: not a name the store accepts")
            continue
        local = file_sha256(path)
        named = NAMED_BY_HASH.match(key)
        if named and named["sha256"] != local:
            result.mismatched.append(f"{key}: the file's SHA-256 is {local}, not its name; not copied")
            continue
        if sha256_of(target, key) == local:
            result.already.append(key)
            continue
        target.put_file(key, path, content_type(path))
        stored = sha256_of(target, key)
        if stored != local:
            result.mismatched.append(f"{key}: the store gives back {stored or 'nothing'}, not {local}")
            continue
        result.copied.append(key)
        report(f"copied {key}")
    return result
