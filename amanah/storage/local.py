"""The instance folder as a file store: a key is a path under it (`uploads/evidence/<sha256>`),
exactly where Amanah always kept its files."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flask import send_file

from amanah.storage.base import KEY_PATTERN, check_key


class LocalStore:
    def __init__(self, root: Path):
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def put(self, key: str, data: bytes, content_type: str) -> bool:
        target = self.path(key)
        if target.is_file():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed into place: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def put_file(self, key: str, path: Path, content_type: str, *, move: bool = False) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            os.replace(path, target)
            return
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str):
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            # Not the files being written (.upload-*.part, a bulk job's <token>.part).
            finished = KEY_PATTERN.match(key) and path.suffix != ".part"
            if path.is_file() and key.startswith(prefix) and finished:
                yield key

    def send(self, key: str, *, mimetype: str, etag: str, download_name: str | None = None,
             as_attachment: bool = False, max_age: int | None = None):
        # send_file stats the path first: a missing file is FileNotFoundError, as the contract says.
        return send_file(self.path(key), mimetype=mimetype, as_attachment=as_attachment,
                         download_name=download_name, etag=etag, conditional=True, max_age=max_age)
