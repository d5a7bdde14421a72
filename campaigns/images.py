"""Cover images: only JPEG, PNG and WebP are accepted, and only re-encoded pixels are kept.

An upload is decoded by Pillow, checked, scaled down and written again as WebP under a name
that is the SHA-256 of the stored bytes, so a file never changes once written and can be
cached forever. Nothing of the original file (metadata, trailing bytes, polyglots) survives.
Covers are kept in the file store (amanah.storage) under `uploads/covers/<sha256>.webp`.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from amanah import storage

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_COVER_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decoding more than this is a decompression bomb, not a photo
MIN_SIDE = 200
STORED_SIZE = (1600, 1000)
NAME_PATTERN = re.compile(r"^[0-9a-f]{64}\.webp$")


class ImageError(ValueError):
    """An upload that is not an acceptable cover; the message is meant for the user."""


def cover_key(name: str) -> str:
    if not is_cover_name(name):
        raise ValueError("not a cover's name")
    return f"uploads/covers/{name}"


def read_limited(stream, limit: int = MAX_COVER_BYTES) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageError(_l("The image is larger than %(size)d MB.", size=limit // (1024 * 1024)))
    return data


def reencode(data: bytes) -> bytes:
    """Decode an upload and return clean WebP bytes, or raise ImageError."""
    if not data:
        raise ImageError(_l("The file is empty."))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
            if kind not in ACCEPTED_FORMATS:
                raise ImageError(_l("Upload a JPEG, PNG or WebP image."))
            if width * height > MAX_PIXELS:
                raise ImageError(_l("The image has too many pixels."))
            if min(width, height) < MIN_SIDE:
                raise ImageError(_l("The image must be at least %(px)d pixels on each side.", px=MIN_SIDE))
            with Image.open(io.BytesIO(data)) as original:
                original.load()
                upright = ImageOps.exif_transpose(original)
                clean = upright.convert("RGBA" if upright.mode in ("RGBA", "LA", "P") else "RGB")
                clean.thumbnail(STORED_SIZE, Image.Resampling.LANCZOS)
                out = io.BytesIO()
                clean.save(out, "WEBP", quality=82, method=4)
                return out.getvalue()
        except ImageError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
                OSError, ValueError, SyntaxError):
            raise ImageError(_l("Upload a JPEG, PNG or WebP image.")) from None


def store_cover(data: bytes) -> str:
    """Re-encode `data` and keep it in the file store; returns the stored file's name."""
    clean = reencode(data)
    name = hashlib.sha256(clean).hexdigest() + ".webp"
    storage.current().put(cover_key(name), clean, "image/webp")  # whole or not at all
    return name


def send_cover(name: str, max_age: int):
    """The cover as a response whose ETag is its hash; FileNotFoundError when it is missing."""
    return storage.current().send(cover_key(name), mimetype="image/webp", etag=name.removesuffix(".webp"),
                                  max_age=max_age)


def is_cover_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name or ""))
