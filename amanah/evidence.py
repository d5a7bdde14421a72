"""Uploaded documents (disbursement evidence, report evidence, an organization's verification
papers): checked by content, stored by their SHA-256.

The SHA-256 of the stored file goes into the ledger entry, and the stored file is exactly what is
published: anyone can hash the file they download and find the ledger's value. Only three formats
are accepted, recognized by reading the bytes (never by the file name or the browser's content
type), and each must actually open as what it claims.

Photos are published without their metadata. A phone picture of a transfer slip would otherwise
tell anyone the GPS position where it was taken, the camera's make, model and serial number, the
time, the editing history (XMP, Photoshop/IPTC), and may even carry a "motion photo" video or a
second image after the end of the JPEG. So JPEG and PNG uploads go through
amanah.image_metadata first: the metadata blocks and anything after the image's end are
dropped, losslessly (the compressed pixels are copied, never re-encoded), keeping only what is
needed to show the image as intended (colour profile, transparency, and an EXIF orientation so
that sideways photos still display upright). The checks and the hash are of these cleaned bytes;
an image with nothing to remove is kept byte for byte. PDFs are kept byte for byte as uploaded:
rewriting a PDF is not lossless, so a treasurer who wants a PDF's properties gone must export it
without them.

Storage is content-addressed: the key `uploads/<kind>/<sha256>` in the file store (amanah.storage:
the instance folder, or a bucket). A file is stored whole or not at all, so a reader never sees
half a file, and before the row that refers to it. A file written by a transaction that rolls
back is removed again, unless another transaction stored the same bytes and committed
(amanah.file_claims); a file without a disbursement row is never served (the row says who may
see it).
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from amanah import file_claims, image_metadata, storage
from amanah.extensions import db
from amanah.transactions import on_rollback

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 60_000_000  # a scan at 600 dpi of an A3 page; more is a decompression bomb
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class EvidenceError(ValueError):
    """An upload that is not acceptable evidence; the message is meant for the user."""


@dataclass(frozen=True)
class Evidence:
    data: bytes  # what is stored and published (an image without its metadata)
    sha256: str  # of `data`
    content_type: str
    metadata_removed: bool = False  # the upload carried metadata (or a trailer) that `data` lacks
    upload_sha256: str = ""  # of the bytes as uploaded (equal to `sha256` unless metadata was removed)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every name this document may already be known by: evidence recorded before metadata was
        removed on upload carries the hash of the file as uploaded."""
        return tuple(dict.fromkeys(h for h in (self.sha256, self.upload_sha256) if h))


def max_bytes() -> int:
    return int(current_app.config["EVIDENCE_MAX_BYTES"])


def size_text(limit: int) -> str:
    """'8 MB' (or '512 KB' for small test limits) for messages."""
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KB"


def read_limited(stream, limit: int | None = None) -> bytes:
    """Read an upload, refusing it once it passes the limit (the rest is never read)."""
    limit = max_bytes() if limit is None else limit
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise EvidenceError(_l("The file is larger than %(size)s.", size=size_text(limit)))
    return data


def _claimed(data: bytes) -> str:
    """The content type the magic bytes claim (PDF, JPEG or PNG), or EvidenceError."""
    if not data:
        raise EvidenceError(_l("The file is empty."))
    for magic, content_type in ((PDF_MAGIC, "application/pdf"), (JPEG_MAGIC, "image/jpeg"),
                                (PNG_MAGIC, "image/png")):
        if data.startswith(magic):
            return content_type
    raise EvidenceError(_l("Upload it as a PDF, JPEG or PNG file."))


_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG"}


def sniff(data: bytes) -> str:
    """The content type the bytes really are (PDF, JPEG or PNG), or EvidenceError."""
    content_type = _claimed(data)
    if content_type == "application/pdf":
        _check_pdf(data)
    else:
        _check_image(data, _PILLOW_FORMAT[content_type])
    return content_type


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    unreadable = EvidenceError(_l("This PDF cannot be read. Save it again as a PDF and upload that."))
    if b"%%EOF" not in data[-2048:]:
        raise unreadable  # truncated, or something else with a PDF header glued on
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypdf warns about harmless quirks of real-world PDFs
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted or len(reader.pages) < 1:
                raise unreadable
        except EvidenceError:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
                OSError, RecursionError):
            raise unreadable from None


def _unreadable_image() -> EvidenceError:
    return EvidenceError(_l("This image cannot be read. Upload a PDF, JPEG or PNG file."))


def _without_metadata(data: bytes) -> image_metadata.Cleaned:
    """The image as it will be published: without metadata and without anything after its end."""
    try:
        return image_metadata.clean(data)
    except image_metadata.MalformedImage:
        raise _unreadable_image() from None


def _check_image(data: bytes, expected: str) -> None:
    broken = _unreadable_image()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected or probe.width * probe.height > MAX_PIXELS:
                    raise broken
                probe.verify()
        except EvidenceError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
                OSError, ValueError, SyntaxError):
            raise broken from None


def inspect(data: bytes) -> Evidence:
    """Check an upload, take the metadata out of an image, and name the result by its SHA-256."""
    if len(data) > max_bytes():
        raise EvidenceError(_l("The file is larger than %(size)s.", size=size_text(max_bytes())))
    content_type = _claimed(data)
    if content_type == "application/pdf":
        _check_pdf(data)  # kept byte for byte: rewriting a PDF is not lossless
        cleaned = image_metadata.Cleaned(data, removed=False)
    else:
        cleaned = _without_metadata(data)
        _check_image(cleaned.data, _PILLOW_FORMAT[content_type])
    digest = hashlib.sha256(cleaned.data).hexdigest()
    return Evidence(data=cleaned.data, sha256=digest, content_type=content_type,
                    metadata_removed=cleaned.removed,
                    upload_sha256=hashlib.sha256(data).hexdigest() if cleaned.removed else digest)


# ---- storage ----

def key_for(sha256: str, kind: str = "evidence") -> str:
    """uploads/<kind>/<sha256>: `evidence` (disbursements, progress reports, transfers back to
    donors) is published by its rows' rules; `organization-documents` (verification papers) only
    ever to admins."""
    if not SHA256_PATTERN.match(sha256 or ""):
        raise ValueError("not a SHA-256 hex digest")
    return f"uploads/{kind}/{sha256}"


def exists(sha256: str, kind: str = "evidence") -> bool:
    return storage.current().exists(key_for(sha256, kind))


def read(sha256: str, kind: str = "evidence") -> bytes:
    return storage.read(key_for(sha256, kind))


def store(evidence: Evidence, kind: str = "evidence") -> str:
    """Put the file in place inside the current transaction (before its rows), claimed by it
    (amanah.file_claims): if the transaction rolls back, the file goes again unless another
    transaction stored the same bytes and committed. Returns its key."""
    key = key_for(evidence.sha256, kind)
    files = storage.current()
    first = file_claims.claim(db.session(), key, evidence.size)
    if files.put(key, evidence.data, evidence.content_type) and first:
        # Only the file this transaction wrote, under a claim no committed transaction had made,
        # is ours to take back. (A file that was there already stays: rows from before the claims
        # existed may name it.)
        on_rollback(file_claims.remove_unless_claimed, files, key)
    return key


def send(sha256: str, content_type: str, *, kind: str = "evidence", download_name: str | None = None,
         as_attachment: bool = False, max_age: int | None = None):
    """The stored file as a response whose ETag is its hash; FileNotFoundError when it is missing.
    The caller has checked who may see it and sets the caching headers that follow from that."""
    return storage.current().send(key_for(sha256, kind), mimetype=content_type, etag=sha256,
                                  download_name=download_name, as_attachment=as_attachment,
                                  max_age=max_age)
