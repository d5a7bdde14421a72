"""Remove metadata from JPEG and PNG files without touching their pixels.

A phone photo of a transfer slip carries far more than the slip: EXIF with the GPS position, the
camera's make, model and serial number and the time it was taken, XMP, Photoshop/IPTC blocks,
comments, thumbnails, and sometimes a whole "motion photo" video or a second image appended after
the end of the JPEG. Published evidence must show the document, nothing else.

Both formats are a sequence of self-describing blocks (JPEG marker segments, PNG chunks), so the
cleaning is done by copying the blocks that are needed to display the image and dropping the rest.
Compressed image data is copied as it is, never decoded and re-encoded: the cleaned file decodes to
exactly the same pixels. A file that has nothing to remove comes back byte for byte.

What stays:
- JPEG: SOI; APP0 JFIF; APP2 ICC_PROFILE (colours); APP14 Adobe (colour transform); every
  non-APP, non-COM segment (DQT, SOFn, DHT, DRI, SOS, ...) and the entropy-coded data up to and
  including EOI. An EXIF Orientation other than 1 is kept as a minimal EXIF block holding only
  that tag, so that photos taken sideways still display upright.
- PNG: the critical chunks and the ancillary chunks that affect how the image is shown
  (transparency, colour space, gamma, physical size, animation, ...), up to and including IEND;
  again an orientation-only eXIf if the orientation is not 1.

Pure Python, no Flask: raises MalformedImage for a structure it cannot follow; the caller turns
that into a message for the user.
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORIENTATION_TAG = 0x0112
EXIF_PREFIX = b"Exif\x00\x00"
ICC_PREFIX = b"ICC_PROFILE\x00"

# JPEG markers (the byte after 0xFF).
_SOS, _EOI, _COM, _TEM = 0xDA, 0xD9, 0xFE, 0x01
_APP0, _APP1, _APP2, _APP14, _APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
_RST = range(0xD0, 0xD8)

# PNG ancillary chunks needed to show the image as intended; every other ancillary chunk goes
# (tEXt, zTXt, iTXt, tIME, eXIf, and private ones such as Apple's or Photoshop's).
PNG_KEPT_ANCILLARY = frozenset({
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"sPLT", b"hIST",
    b"cICP", b"mDCv", b"cLLI", b"sCAL", b"oFFs", b"pCAL", b"sTER",
    b"acTL", b"fcTL", b"fdAT",  # APNG
})


class MalformedImage(ValueError):
    """The file's block structure is broken or truncated (not a message for users)."""


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    removed: bool  # whether anything was taken out (data differs from the input)


def clean(data: bytes) -> Cleaned:
    """The JPEG or PNG without metadata; any other bytes unchanged."""
    if data.startswith(JPEG_SOI):
        out = clean_jpeg(data)
    elif data.startswith(PNG_SIGNATURE):
        out = clean_png(data)
    else:
        out = data
    return Cleaned(out, out != data)


# ---- EXIF orientation ----

def exif_orientation(tiff: bytes) -> int | None:
    """The Orientation (1-8) in IFD0 of a TIFF-structured EXIF block, or None."""
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        return None
    try:
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for i in range(count):
            tag, kind, n = struct.unpack_from(order + "HHI", tiff, ifd + 2 + 12 * i)
            if tag == ORIENTATION_TAG:
                if kind != 3 or n != 1:  # SHORT, one value
                    return None
                (value,) = struct.unpack_from(order + "H", tiff, ifd + 2 + 12 * i + 8)
                return value if 1 <= value <= 8 else None
    except struct.error:
        return None
    return None


def orientation_only_tiff(orientation: int, big_endian: bool = False) -> bytes:
    """A TIFF header and one IFD holding only the Orientation tag (SHORT, 1 value), next IFD 0."""
    order, magic = (">", b"MM\x00*") if big_endian else ("<", b"II*\x00")
    return (magic + struct.pack(order + "I", 8) + struct.pack(order + "H", 1)
            + struct.pack(order + "HHIHH", ORIENTATION_TAG, 3, 1, orientation, 0)
            + struct.pack(order + "I", 0))


def _orientation_exif(tiff: bytes) -> bytes | None:
    """The orientation-only replacement for an EXIF block, or None when it has nothing to keep."""
    orientation = exif_orientation(tiff)
    if orientation is None or orientation == 1:
        return None
    return orientation_only_tiff(orientation, big_endian=tiff[:2] == b"MM")


# ---- JPEG ----

def _jpeg_segment_kept(marker: int, segment: bytes) -> bytes | None:
    """What to write for one length-prefixed segment (marker + length + payload): itself, a
    replacement, or None to drop it."""
    payload = segment[4:]
    if marker in (_COM, _APP15) or 0xE3 <= marker <= 0xED:  # APP13: Photoshop/IPTC
        return None
    if marker == _APP0:
        return segment if payload.startswith(b"JFIF\x00") else None  # JFXX: a thumbnail
    if marker == _APP1:
        if not payload.startswith(EXIF_PREFIX):
            return None  # XMP, extended XMP
        tiff = _orientation_exif(payload[len(EXIF_PREFIX):])
        if tiff is None:
            return None
        body = EXIF_PREFIX + tiff
        return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    if marker == _APP2:
        return segment if payload.startswith(ICC_PREFIX) else None  # MPF points at appended images
    if marker == _APP14:
        return segment if payload.startswith(b"Adobe") else None
    return segment


# In entropy-coded data FF 00 is a stuffed FF byte, FF D0-D7 a restart marker and FF FF fill; any
# other FF xx is a marker.
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _entropy_coded_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at pos ends: the FF of the next marker."""
    found = _MARKER_IN_SCAN.search(data, pos)
    if found is None:
        raise MalformedImage("no EOI")
    return found.start()


def _marker_at(data: bytes, pos: int) -> tuple[int, int]:
    """(marker, position after it) for the marker at pos, skipping fill bytes FF FF ... before it."""
    if pos >= len(data) or data[pos] != 0xFF:
        raise MalformedImage("expected a marker")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise MalformedImage("truncated marker")
    marker = data[pos]
    if marker == 0x00 or marker in _RST or marker == 0xD8:
        raise MalformedImage(f"unexpected marker {marker:#04x}")
    return marker, pos + 1


def clean_jpeg(data: bytes) -> bytes:
    """SOI, the segments that are needed, the scans through EOI; nothing after EOI."""
    if not data.startswith(JPEG_SOI):
        raise MalformedImage("no SOI")
    out = [JPEG_SOI]
    pos = 2
    in_scan = False  # after the first SOS: entropy-coded data between the segments
    while True:
        if in_scan:
            ff = _entropy_coded_end(data, pos)
            out.append(data[pos:ff])
            pos = ff
        start = pos
        marker, pos = _marker_at(data, pos)
        if marker == _EOI:
            if not in_scan:
                raise MalformedImage("EOI before any scan")
            out.append(data[start:pos])
            return b"".join(out)  # whatever follows (a video, another image) is dropped
        if marker == _TEM:  # the only stand-alone marker besides SOI, EOI and RSTn
            out.append(data[start:pos])
            continue
        if pos + 2 > len(data):
            raise MalformedImage("truncated segment length")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > len(data):
            raise MalformedImage("segment runs past the end")
        pos += length
        segment = data[pos - length - 2:pos]  # marker, length, payload (without the fill bytes)
        kept = _jpeg_segment_kept(marker, segment)
        if kept is segment:
            out.append(data[start:pos])  # fill bytes included, so a clean file stays identical
        elif kept is not None:
            out.append(kept)
        in_scan = in_scan or marker == _SOS


# ---- PNG ----

def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def clean_png(data: bytes) -> bytes:
    """The signature and the chunks that are needed, through IEND; nothing after IEND."""
    if not data.startswith(PNG_SIGNATURE):
        raise MalformedImage("no PNG signature")
    out = [PNG_SIGNATURE]
    pos, end = len(PNG_SIGNATURE), len(data)
    while True:
        if pos + 12 > end:
            raise MalformedImage("no IEND")
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunk_end = pos + 12 + length
        if length > 0x7FFFFFFF or chunk_end > end or not kind.isalpha():
            raise MalformedImage("broken chunk")
        chunk = data[pos:chunk_end]
        pos = chunk_end
        if kind[:1].isupper() or kind in PNG_KEPT_ANCILLARY:  # critical (IHDR, PLTE, IDAT, IEND) or needed
            out.append(chunk)
        elif kind == b"eXIf":
            body = chunk[8:-4]
            prefixed = body.startswith(EXIF_PREFIX)  # some writers put the JPEG prefix here too
            tiff = _orientation_exif(body[len(EXIF_PREFIX):] if prefixed else body)
            if tiff is not None:
                replacement = _png_chunk(b"eXIf", tiff)
                out.append(chunk if replacement == chunk else replacement)
        if kind == b"IEND":
            return b"".join(out)
