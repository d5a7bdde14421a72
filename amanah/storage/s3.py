"""An S3-compatible bucket as a file store, through boto3: AWS S3, MinIO, Cloudflare R2 and others.

`STORAGE_URL=s3://bucket/prefix` names the bucket and the prefix the keys go under;
`S3_ENDPOINT_URL` the server when it is not AWS (path-style addressing is used then, which
MinIO and R2 accept); credentials and region come the way boto3 always finds them (the
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION` variables, ~/.aws, an instance
role). Every call fails within seconds when the server is away, as StorageUnavailable; a key
that holds nothing is FileNotFoundError.

Files are served through the app, never by redirecting to a presigned URL: the app's answer
carries the headers that make public files safe and cacheable (the hash as ETag, `immutable`,
the sandboxing Content-Security-Policy, CORS for auditors' tools), a presigned URL expires, and
a conditional request is answered 304 without asking the bucket at all. See the README's
"File storage".
"""
from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import request, send_file

from amanah.storage.base import StorageUnavailable, check_key

URL_PATTERN = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
# Files up to this size are read whole and served with range support; larger ones (bulk ZIPs)
# are streamed from the bucket as they arrive.
IN_MEMORY_BYTES = 16 * 1024 * 1024
NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 3, 20, 2

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, prefix without slashes at its ends) of `s3://bucket/prefix`, or ValueError."""
    match = URL_PATTERN.match(url or "")
    if match is None:
        raise ValueError("expected s3://bucket or s3://bucket/prefix")
    return match["bucket"], (match["prefix"] or "").strip("/")


def client(endpoint_url: str | None):
    """One boto3 client per process and endpoint (clients are thread-safe; a forked worker
    makes its own rather than share its parent's connections)."""
    key = (os.getpid(), endpoint_url)
    with _clients_lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                            retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
                            s3={"addressing_style": "path" if endpoint_url else "auto"})
            _clients[key] = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        return _clients[key]


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None):
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix, endpoint_url

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None) -> S3Store:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix, endpoint_url)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def _client(self):
        return client(self.endpoint_url)

    @contextmanager
    def _calling(self, what: str, key: str = ""):
        """botocore's errors as this module's: a missing key, or a store we cannot use now."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if key and code in NOT_FOUND:
                raise FileNotFoundError(f"{self.describe()}: no {key}") from None
            raise StorageUnavailable(f"{self.describe()}: {what} {key}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{self.describe()}: {what} {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            with self._calling("HEAD", key):
                self._client.head_object(Bucket=self.bucket, Key=self._name(key))
        except FileNotFoundError:
            return False
        return True

    def put(self, key: str, data: bytes, content_type: str) -> bool:
        if self.exists(key):
            return False
        from botocore.exceptions import ClientError

        with self._calling("PUT", key):
            try:
                # If-None-Match: another server storing the same bytes at the same moment wins,
                # and only the writer may remove the object on a rollback.
                self._client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                        ContentType=content_type, IfNoneMatch="*")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                    return False
                raise
        return True

    def put_file(self, key: str, path: Path, content_type: str, *, move: bool = False) -> None:
        with self._calling("PUT", key):
            # Multipart for large files (bulk ZIPs), each part retried by boto3's transfer manager.
            self._client.upload_file(str(path), self.bucket, self._name(key),
                                     ExtraArgs={"ContentType": content_type})
        if move:
            path.unlink(missing_ok=True)

    def _get(self, key: str) -> dict:
        with self._calling("GET", key):
            return self._client.get_object(Bucket=self.bucket, Key=self._name(key))

    def open(self, key: str):
        return _Body(self._get(key)["Body"], self)

    def delete(self, key: str) -> None:
        with self._calling("DELETE", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def keys(self, prefix: str) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        with self._calling("LIST", prefix):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start + prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(start):]

    def send(self, key: str, *, mimetype: str, etag: str, download_name: str | None = None,
             as_attachment: bool = False, max_age: int | None = None):
        options = {"mimetype": mimetype, "download_name": download_name, "as_attachment": as_attachment,
                   "etag": etag, "conditional": True, "max_age": max_age}
        if request.if_none_match.contains(etag):
            # The ETag is the hash of the bytes: the client has them, the bucket need not be asked.
            return send_file(io.BytesIO(b""), **options)
        found = self._get(key)
        body, length = found["Body"], found["ContentLength"]
        if length <= IN_MEMORY_BYTES:
            with self._calling("GET", key):
                data = body.read()
            return send_file(io.BytesIO(data), last_modified=found.get("LastModified"), **options)
        response = send_file(_Body(body, self), last_modified=found.get("LastModified"), **options)
        if response.status_code == 200:
            response.content_length = length
        return response


class _Body(io.RawIOBase):
    """A streamed object, read like a file; a connection lost midway is StorageUnavailable."""

    def __init__(self, body, store: S3Store):
        super().__init__()
        self._body, self._store = body, store

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self._store._calling("GET"):
            return self._body.read(None if size is None or size < 0 else size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()
