"""Evidence images are published without metadata: lossless, and hashed as published."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import struct
import warnings
import zlib

import pytest
import sqlalchemy as sa
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from accounts.models import User
from amanah import evidence as evidence_store
from amanah import image_metadata
from amanah.extensions import db
from ledger.models import LedgerEntry
from tests.factories import login
from tests.factories.treasury import EN, SECRET_PLACE, drawing, form_data, rich_exif, stored_nothing
from treasury.models import Disbursement

TRAILER = b"\x00\x00\x00\x18ftypmp42MOTION-PHOTO-VIDEO" * 20
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="XMP-SECRET-TOOL"/>'
       b"</rdf:RDF></x:xmpmeta>")
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()






def insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def markers(jpeg: bytes) -> list[int]:
    """The markers of the segments before the first SOS (inclusive)."""
    found, pos = [], 2
    while True:
        marker = jpeg[pos + 1]
        found.append(marker)
        if marker == 0xDA:
            return found
        pos += 2 + struct.unpack_from(">H", jpeg, pos + 2)[0]


def gps_jpeg(**save) -> tuple[bytes, Image.Image]:
    """A phone photo: EXIF with GPS, camera and time, ICC, XMP, a comment, IPTC, an MPF index of a
    second image stored after the first one's EOI (an MPO), and a "motion photo" video after that."""
    image = drawing()
    out = io.BytesIO()
    image.save(out, "MPO", save_all=True, append_images=[drawing((80, 60))], quality=90,
               exif=rich_exif(), icc_profile=ICC, xmp=XMP, comment="COMMENT-SECRET", **save)
    data = insert_after_soi(out.getvalue(),
                            segment(0xED, b"Photoshop 3.0\x008BIM IPTC-SECRET"),
                            segment(0xEF, b"APP15-SECRET"))
    return data + TRAILER, image


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def assert_no_secrets(data: bytes) -> None:
    for secret in (SECRET_PLACE, b"SecretPhoneMaker", b"SecretModel", b"SERIAL-0042", b"2024:05:06",
                   b"XMP-SECRET", b"http://ns.adobe.com/xap", b"COMMENT-SECRET", b"IPTC-SECRET",
                   b"APP15-SECRET", b"MPF\x00", b"MOTION-PHOTO"):
        assert secret not in data, secret


# ---- JPEG ----

def test_jpeg_loses_gps_camera_xmp_comment_and_trailer_but_keeps_orientation_and_colours():
    original, _image = gps_jpeg()
    assert SECRET_PLACE in original and b"XMP-SECRET" in original and original.endswith(TRAILER)
    assert original.count(b"\xff\xd8\xff") == 2 and b"MPF\x00" in original
    cleaned = image_metadata.clean(original)
    assert cleaned.removed
    data = cleaned.data
    assert_no_secrets(data)
    assert data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        exif = image.getexif()
        assert dict(exif) == {0x0112: 6}
        assert exif.get_ifd(0x8825) == {} and exif.get_ifd(0x8769) == {}
        assert image.info.get("icc_profile") == ICC
        assert "comment" not in image.info and "xmp" not in image.info
        assert ImageOps.exif_transpose(image).size == (200, 320)  # still displayed upright
    assert pixels(data) == pixels(original)
    # SOI, APP0 JFIF, the orientation-only EXIF, ICC, then the image's own segments.
    assert markers(data)[:3] == [0xE0, 0xE1, 0xE2]
    assert not {0xED, 0xEF, 0xFE} & set(markers(data))
    assert image_metadata.clean(data) == image_metadata.Cleaned(data, removed=False)  # idempotent


def test_orientation_only_exif_is_minimal_and_in_the_original_byte_order():
    for big_endian in (False, True):
        tiff = image_metadata.orientation_only_tiff(8, big_endian=big_endian)
        assert len(tiff) == 8 + 2 + 12 + 4 and image_metadata.exif_orientation(tiff) == 8
        assert tiff[:2] == (b"MM" if big_endian else b"II")
    out = io.BytesIO()
    drawing().save(out, "JPEG")
    jpeg = out.getvalue()
    minimal = segment(0xE1, b"Exif\x00\x00" + image_metadata.orientation_only_tiff(3, big_endian=True))
    already_clean = jpeg[:20] + minimal + jpeg[20:]  # after APP0
    assert image_metadata.clean(already_clean) == image_metadata.Cleaned(already_clean, removed=False)
    # Orientation 1 (the default) needs no EXIF at all.
    upright = jpeg[:20] + segment(0xE1, b"Exif\x00\x00" + image_metadata.orientation_only_tiff(1)) + jpeg[20:]
    assert image_metadata.clean(upright) == image_metadata.Cleaned(jpeg, removed=True)


def test_progressive_jpeg_with_metadata_between_scans_keeps_every_scan():
    original, _image = gps_jpeg(progressive=True)
    first_sos = original.index(b"\xff\xda")
    second_sos = original.index(b"\xff\xda", first_sos + 2)  # FF DA cannot occur in scan data
    original = original[:second_sos] + segment(0xFE, b"COMMENT-SECRET between scans") + original[second_sos:]
    data = image_metadata.clean(original).data
    assert_no_secrets(data)
    first_image = original[:original.index(b"\xff\xd8\xff", 2)]  # the MPO's second image follows
    assert data.count(b"\xff\xda") == first_image.count(b"\xff\xda") > 2
    assert pixels(data) == pixels(original)
    with Image.open(io.BytesIO(data)) as image:
        assert image.info.get("progressive") and image.getexif()[0x0112] == 6


def test_restart_markers_and_fill_bytes_are_scan_data_not_segments():
    image = drawing((160, 96))
    out = io.BytesIO()
    image.save(out, "JPEG", restart_marker_blocks=1, exif=rich_exif())
    original = out.getvalue()
    assert b"\xff\xd0" in original
    data = image_metadata.clean(original).data
    assert pixels(data) == pixels(original) and SECRET_PLACE not in data
    # Fill bytes before a marker are allowed and kept when there is nothing to remove.
    clean = image_metadata.clean(data).data
    padded = clean[:2] + b"\xff\xff" + clean[2:]
    assert image_metadata.clean(padded) == image_metadata.Cleaned(padded, removed=False)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_file_without_metadata_is_kept_byte_for_byte(fmt):
    for options in ({}, {"progressive": True} if fmt == "JPEG" else {"optimize": True}):
        out = io.BytesIO()
        drawing().save(out, fmt, **options)
        data = out.getvalue()
        assert image_metadata.clean(data) == image_metadata.Cleaned(data, removed=False)


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    drawing((64, 64)).save(out, "JPEG")
    return out.getvalue()


MALFORMED_JPEGS = {
    "truncated": lambda j: j[: len(j) // 2],
    "no EOI": lambda j: j[:-2],
    "EOI before a scan": lambda j: b"\xff\xd8\xff\xd9",
    "segment past the end": lambda j: b"\xff\xd8" + segment(0xE1, b"Exif\x00\x00")[:4] + b"\xff\xff\x00",
    "segment length below 2": lambda j: b"\xff\xd8\xff\xe0\x00\x01" + j[2:],
    "junk between segments": lambda j: j[:20] + b"junk" + j[20:],
    "only SOI": lambda j: b"\xff\xd8\xff",
    "second SOI": lambda j: j[:20] + b"\xff\xd8" + j[20:],
}


@pytest.mark.parametrize("name", MALFORMED_JPEGS)
def test_malformed_jpeg_structure_is_a_clear_evidence_error(app, name):
    data = MALFORMED_JPEGS[name](jpeg_bytes())
    with pytest.raises(image_metadata.MalformedImage):
        image_metadata.clean(data)
    with app.test_request_context(headers=EN), pytest.raises(evidence_store.EvidenceError) as refused:
        evidence_store.inspect(data)
    assert str(refused.value.args[0]) == "This image cannot be read. Upload a PDF, JPEG or PNG file."


def test_damaged_files_give_malformed_image_or_evidence_error_and_nothing_else(app):
    """Random damage (bytes changed, cut out, inserted, the end cut off) never ends in a 500."""
    rng = random.Random(20241130)
    seeds = [gps_jpeg()[0], gps_jpeg(progressive=True)[0], gps_png()[0]]
    with app.app_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings about damaged files
        for _ in range(300):
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(len(data))
                action = rng.random()
                if action < 0.6:
                    data[at] = rng.randrange(256)
                elif action < 0.8:
                    del data[at:at + rng.randint(1, 50)]
                else:
                    data[at:at] = rng.randbytes(rng.randint(1, 10))
            if rng.random() < 0.2:
                data = data[:rng.randrange(len(data))]
            with contextlib.suppress(image_metadata.MalformedImage):
                image_metadata.clean(bytes(data))
            with contextlib.suppress(evidence_store.EvidenceError):
                evidence_store.inspect(bytes(data))


# ---- PNG ----

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def chunks(png: bytes) -> list[bytes]:
    found, pos = [], 8
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        found.append(kind)
        pos += 12 + length
        if kind == b"IEND":
            return found
    return found


def gps_png() -> tuple[bytes, Image.Image]:
    image = drawing().convert("RGBA")
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "TEXT-SECRET")
    info.add_text("Comment", "ZTXT-SECRET " * 20, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=False)
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 6, 7, 8, 9))
    info.add(b"prVt", b"PRIVATE-CHUNK-SECRET")
    info.add(b"gAMA", struct.pack(">I", 45455))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=rich_exif(), icc_profile=ICC, dpi=(300, 300))
    return out.getvalue() + b"TRAILER-SECRET" + TRAILER, image


def test_png_loses_text_time_exif_private_chunks_and_trailer_but_keeps_rendering_chunks():
    original, _image = gps_png()
    kinds = set(chunks(original))
    assert {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf", b"prVt", b"iCCP", b"gAMA", b"pHYs"} <= kinds
    cleaned = image_metadata.clean(original)
    assert cleaned.removed
    data = cleaned.data
    assert_no_secrets(data)
    for secret in (b"TEXT-SECRET", b"Author", b"XML:com.adobe.xmp", b"PRIVATE-CHUNK", b"TRAILER-SECRET"):
        assert secret not in data, secret
    assert chunks(data) == [k for k in chunks(original)
                            if k not in (b"tEXt", b"zTXt", b"iTXt", b"tIME", b"prVt")]  # eXIf rewritten
    assert data.endswith(b"IEND\xaeB`\x82")
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # every chunk's CRC, including the rewritten eXIf
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert dict(image.getexif()) == {0x0112: 6} and image.getexif().get_ifd(0x8825) == {}
        assert image.info.get("icc_profile") == ICC
        assert image.info.get("dpi") == pytest.approx((300, 300), abs=0.01)
        assert image.info.get("gamma") == pytest.approx(0.45455)
        assert image.mode == "RGBA"
    assert pixels(data) == pixels(original)


def test_png_exif_without_orientation_goes_entirely():
    image = drawing()
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"
    out = io.BytesIO()
    image.save(out, "PNG", exif=exif)
    data = image_metadata.clean(out.getvalue()).data
    assert b"eXIf" not in data and b"SecretPhoneMaker" not in data
    assert pixels(data) == pixels(out.getvalue())


def test_truncated_png_is_a_clear_evidence_error(app):
    out = io.BytesIO()
    drawing().save(out, "PNG")
    png = out.getvalue()
    for data in (png[:-12], png[:40], png[:8] + png_chunk(b"IHDR", b"\x00" * 13)[:-2]):
        with app.test_request_context(headers=EN), pytest.raises(evidence_store.EvidenceError) as refused:
            evidence_store.inspect(data)
        assert "This image cannot be read" in str(refused.value.args[0])


# ---- evidence.inspect ----

def test_inspect_hashes_the_cleaned_bytes_and_checks_them(app):
    original, _image = gps_jpeg()
    with app.app_context():
        document = evidence_store.inspect(original)
    assert document.metadata_removed and document.content_type == "image/jpeg"
    assert document.data == image_metadata.clean(original).data
    assert document.sha256 == hashlib.sha256(document.data).hexdigest()
    assert document.sha256 != hashlib.sha256(original).hexdigest()


def test_inspect_keeps_a_pdf_byte_for_byte(app):
    out = io.BytesIO()
    drawing().save(out, "PDF", title="PDF-TITLE", author="Someone")
    pdf = out.getvalue()
    with app.app_context():
        document = evidence_store.inspect(pdf)
    assert document.data == pdf and not document.metadata_removed
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()


# ---- through the treasurer's form ----

@pytest.mark.files
def test_uploaded_photo_is_published_without_metadata_and_matches_the_ledger(app, funded):
    public_id, treasurer_id = funded
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, treasurer_id))
    form_page = client.get(f"/treasury/{public_id}/disbursements/new", headers=EN).get_data(as_text=True)
    assert "without their location, camera and time metadata" in form_page
    assert "SHA-256 of the published file" in form_page
    form_page = client.get(f"/treasury/{public_id}/disbursements/new",
                           headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "Foto diterbitkan tanpa metadata lokasi, kamera, dan waktu" in form_page
    original, _image = gps_jpeg()
    response = client.post(f"/treasury/{public_id}/disbursements/new",
                           data=form_data(evidence=(original, "slip.jpg")), headers=EN,
                           content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        row = db.session.scalar(sa.select(Disbursement))
        leaf = json.loads(db.session.get(LedgerEntry, row.ledger_seq).leaf)
        sha = row.evidence_sha256
        assert leaf["evidence"] == sha != hashlib.sha256(original).hexdigest()
        assert row.evidence_type == "image/jpeg" and row.evidence_size < len(original)
    page = client.get(response.location, headers=EN).get_data(as_text=True)
    assert "Location, camera and time metadata were removed from the image" in page
    assert sha in page

    with app.test_client().get(f"/evidence/{sha}") as served:  # anyone, signed in or not
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert hashlib.sha256(served.data).hexdigest() == leaf["evidence"]
        assert_no_secrets(served.data)
        assert pixels(served.data) == pixels(original)
        with Image.open(io.BytesIO(served.data)) as image:
            assert dict(image.getexif()) == {0x0112: 6}

    # The same photo with other metadata is the same published file: it cannot prove a second payment.
    resend = original.replace(b"SecretPhoneMaker", b"OtherPhoneMaker!")
    response = client.post(f"/treasury/{public_id}/disbursements/new",
                           data=form_data(evidence=(resend, "slip-again.jpg")), headers=EN,
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "already the evidence of another disbursement" in response.get_data(as_text=True)


@pytest.mark.files
def test_a_clean_upload_gets_no_metadata_notice(app, funded):
    public_id, treasurer_id = funded
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, treasurer_id))
    out = io.BytesIO()
    drawing().save(out, "PNG")
    response = client.post(f"/treasury/{public_id}/disbursements/new",
                           data=form_data(evidence=(out.getvalue(), "slip.png")), headers=EN,
                           content_type="multipart/form-data")
    assert response.status_code == 303
    page = client.get(response.location, headers=EN).get_data(as_text=True)
    assert "recorded as ledger entry" in page and "metadata were removed" not in page
    with app.app_context():
        assert db.session.scalar(sa.select(Disbursement.evidence_sha256)) == hashlib.sha256(
            out.getvalue()).hexdigest()


@pytest.mark.files
def test_a_malformed_jpeg_upload_is_refused_in_indonesian_too(app, funded):
    public_id, treasurer_id = funded
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, treasurer_id))
    response = client.post(f"/treasury/{public_id}/disbursements/new",
                           data=form_data(evidence=(jpeg_bytes()[:-300], "slip.jpg")),
                           headers={"Accept-Language": "id"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "tidak dapat dibaca" in response.get_data(as_text=True)
    assert stored_nothing(app)
