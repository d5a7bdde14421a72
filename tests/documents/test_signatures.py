"""Every issued document carries a PAdES signature that pyHanko's validator accepts against the
configured certificate, made after the PDF/A-3b attachments, over the whole file: a changed byte
breaks it. Stored bytes are the signed bytes. Development generates its own certificate once;
production refuses to start without one it can open. A timestamp authority is used when set."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from amanah import create_app
from amanah.config import ConfigError
from amanah.db import now_utc
from amanah.extensions import db
from documents import receipts, signing
from documents.models import Document
from tests.factories import login, make_user
from tests.factories.documents import (
    every_document,
    make_campaign,
    paid_donation,
    pdf_attachments,
    signature_holds,
    signature_status,
)


def _certificate(app) -> bytes:
    with app.app_context():
        return signing.signing_key().certificate_der


def test_every_document_kind_is_signed_and_a_changed_byte_breaks_the_signature(app, client):
    documents = every_document(app, client)
    assert set(documents) == {"receipt", "credit_note", "cancellation", "statement", "impact_report",
                              "campaign_report"}
    certificate = _certificate(app)
    for kind, data in documents.items():
        assert data.startswith(b"%PDF-"), kind
        assert signature_holds(data, certificate), kind
        # The header's binary comment: the file still reads, but the signed digest no longer matches.
        changed = bytearray(data)
        changed[11] ^= 0x01
        assert not signature_holds(bytes(changed), certificate), kind
        # One byte in the middle of the document, wherever it falls.
        changed = bytearray(data)
        changed[len(data) // 2] ^= 0x20
        assert not signature_holds(bytes(changed), certificate), kind
    # Signed after the attachments went in: they are inside the signed bytes.
    assert any(name.endswith(".tlog-proof") for name in pdf_attachments(documents["receipt"]))


def test_another_certificate_is_not_trusted(app, client, tmp_path):
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
        data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
    signing.generate_p12(tmp_path / "other.p12", "Someone else", "Someone else")
    other = signing._load(tmp_path / "other.p12", None)
    assert signature_holds(data, _certificate(app))
    assert not signature_holds(data, other.certificate_der)


def test_stored_bytes_are_the_signed_bytes_and_a_redownload_is_identical(app, client):
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        serial = receipts.receipt_of(donation_id).serial
        login(client, donor)
    first = client.get(f"/receipts/{serial}.pdf")
    again = client.get(f"/receipts/{serial}.pdf")
    with app.app_context():
        stored = db.session.execute(sa.select(Document.pdf).where(Document.serial == serial)).scalar_one()
    assert first.data == again.data == bytes(stored)
    assert first.headers["ETag"].strip('"') == hashlib.sha256(first.data).hexdigest()
    assert signature_holds(first.data, _certificate(app))


def test_development_generates_one_certificate_into_the_instance_folder(databases, tmp_path, monkeypatch):
    monkeypatch.delenv("DOCUMENT_SIGNING_P12", raising=False)
    monkeypatch.delenv("DOCUMENT_SIGNING_PASSWORD", raising=False)
    app = create_app({"AMANAH_ENV": "testing", "INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": databases.url})
    with app.app_context():
        key = signing.signing_key()
        generated = tmp_path / signing.GENERATED_P12
        assert generated.is_file() and generated.stat().st_mode & 0o077 == 0
        assert app.config["ORG_NAME"] in key.subject
    signing._keys.clear()  # as a new process would
    with app.app_context():
        assert signing.signing_key().fingerprint == key.fingerprint  # the same file, not a new key
        db.engine.dispose()


def _production_env(monkeypatch, tmp_path, **signing_settings):
    from tests.amanah.test_app import PRODUCTION_ORGANIZATION
    env = {"AMANAH_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
           "STRIPE_SECRET_KEY": "sk", "STRIPE_WEBHOOK_SECRET": "wh", "LEDGER_SIGNING_KEY": "k",
           "LEDGER_ORIGIN": "o", "MAIL_SERVER": "m", "SERVER_NAME": "amanah.example",
           **PRODUCTION_ORGANIZATION, **signing_settings}
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_production_requires_a_signing_key_it_can_open(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCUMENT_SIGNING_P12", raising=False)
    monkeypatch.delenv("DOCUMENT_SIGNING_PASSWORD", raising=False)
    _production_env(monkeypatch, tmp_path)
    with pytest.raises(ConfigError) as excinfo:
        create_app({"INSTANCE_PATH": str(tmp_path)})
    missing = str(excinfo.value).split("missing: ", 1)[1].split(", ")
    assert {"DOCUMENT_SIGNING_P12", "DOCUMENT_SIGNING_PASSWORD"} <= set(missing)
    signing.generate_p12(tmp_path / "org.p12", "Yayasan Contoh", "Yayasan Contoh", b"right")
    _production_env(monkeypatch, tmp_path, DOCUMENT_SIGNING_P12=str(tmp_path / "org.p12"),
                    DOCUMENT_SIGNING_PASSWORD="wrong")
    with pytest.raises(ConfigError, match="DOCUMENT_SIGNING_P12"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    _production_env(monkeypatch, tmp_path, DOCUMENT_SIGNING_P12=str(tmp_path / "missing.p12"),
                    DOCUMENT_SIGNING_PASSWORD="right")
    with pytest.raises(ConfigError, match="DOCUMENT_SIGNING_P12: cannot read"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


class _TimestampAuthority:
    """A local RFC 3161 timestamp authority (pyHanko's test TSA behind HTTP)."""

    def __init__(self, tmp_path):
        from asn1crypto import keys, x509
        from cryptography import x509 as cx509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
        now = dt.datetime.now(dt.UTC)
        cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                .sign(key, hashes.SHA256()))
        self.stamper = DummyTimeStamper(
            x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption())))
        self.requests = 0
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from asn1crypto import tsp
                request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
                body = authority.stamper.request_tsa_response(request).dump()
                authority.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/tsa"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_configured_timestamp_authority_stamps_the_signature(app, client, tmp_path):
    authority = _TimestampAuthority(tmp_path)
    try:
        app.config["DOCUMENT_SIGNING_TSA_URL"] = authority.url
        with app.app_context():
            donation_id = paid_donation(app, make_campaign())
            data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
        assert authority.requests == 1
        status = signature_status(data, _certificate(app), authority.stamper.tsa_cert)
        assert status.intact and status.valid and status.timestamp_validity is not None
        assert signature_holds(data, _certificate(app))
    finally:
        authority.close()


def test_the_verify_pages_show_the_certificates_fingerprint_and_how_to_check(app, client):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    certificate = _certificate(app)
    digest = hashlib.sha256(certificate).hexdigest().upper()
    fingerprint = ":".join(digest[i:i + 2] for i in range(0, 64, 2))
    for page in ("/ledger/verify", "/ledger/receipt-proof"):
        html = client.get(page).get_data(as_text=True)
        assert fingerprint in html, page
        assert "pyhanko sign validate" in html and "/documents/signing-certificate.pem" in html, page
    pem = client.get("/documents/signing-certificate.pem")
    assert pem.status_code == 200
    assert x509.load_pem_x509_certificate(pem.data).public_bytes(Encoding.DER) == certificate


def test_a_container_filled_from_the_template_is_the_one_pyhanko_builds(app, tmp_path):
    """The fast path (signing._CmsTemplate) changes only the digest and the signature: for the
    same digest its container is byte for byte pyHanko's own, and a second document's differs
    only in those bytes."""
    import asyncio
    import hashlib as h

    from pyhanko.sign.signers import SimpleSigner
    signing.generate_p12(tmp_path / "t.p12", "Yayasan Contoh", "Yayasan Contoh")
    key = signing._load(tmp_path / "t.p12", None)
    for text in (b"one document", b"another document"):
        digest = h.sha256(text).digest()
        ours = asyncio.run(key.signer.async_sign(digest, "sha256", use_pades=True)).dump()
        theirs = asyncio.run(SimpleSigner.async_sign(key.signer, digest, "sha256", use_pades=True)).dump()
        assert ours == theirs
        assert digest in ours
    assert [t for t in key.signer._templates.values() if t is not None]  # the fast path was taken


def test_a_container_with_anything_that_varies_makes_no_template(app, tmp_path):
    """A signing time (or a timestamp token, which never takes the fast path) would be frozen into
    every later signature: such a container is refused as a template."""
    import asyncio

    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
    signing.generate_p12(tmp_path / "t.p12", "Yayasan Contoh", "Yayasan Contoh")
    key = signing._load(tmp_path / "t.p12", None)
    settings = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
    made = asyncio.run(key.signer.async_sign(signing._TEMPLATE_DIGEST, "sha256", use_pades=False,
                                             signed_attr_settings=settings))
    types = {a["type"].native for a in made["content"]["signer_infos"][0]["signed_attrs"]}
    assert "signing_time" in types
    assert signing._CmsTemplate.from_container(made) is None


def _signature_dictionary(data: bytes):
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(data))
    (field,) = reader.trailer["/Root"]["/AcroForm"]["/Fields"]
    return reader, field.get_object()["/V"].get_object()


def test_without_a_timestamp_authority_the_signature_is_written_with_the_document(app, client):
    """SignatureSlot: one revision (no incremental update), a byte range of every byte but
    /Contents, a container that fills /Contents exactly, and the reason and place stated."""
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
        data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
        organization = app.config["ORG_NAME"]
    assert data.count(b"%%EOF") == 1
    reader, signature = _signature_dictionary(data)
    start, first, second, rest = (int(n) for n in signature["/ByteRange"])
    assert start == 0 and second + rest == len(data)
    assert data[first:first + 1] == b"<" and data[second - 1:second] == b">"
    contents = data[first + 1:second - 1]
    assert not contents.endswith(b"00")  # no padding: nothing unsigned but the container itself
    assert signature["/SubFilter"] == "/ETSI.CAdES.detached" and signature["/Filter"] == "/Adobe.PPKLite"
    assert organization in signature["/Reason"] and signature["/M"].startswith("D:")
    signed_at = dt.datetime.strptime(signature["/M"][2:16], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    assert abs(now_utc() - signed_at) < dt.timedelta(minutes=5)
    assert signature_status(data, _certificate(app)).signer_reported_dt is not None
    # Every stream is deflated (documents.pdf.compress_streams), the image and fonts included.
    for page in reader.pages:
        for name, image in (page["/Resources"].get("/XObject") or {}).items():
            assert image.get_object()["/Filter"] == "/FlateDecode", name


def test_a_key_whose_containers_vary_in_length_is_signed_by_pyhanko_each_time(app, client, tmp_path):
    """An ECDSA signature's DER length varies, so such a key has no template: pyHanko builds each
    container whole, in the room reserved for the largest."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Yayasan Kurva")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(7).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    (tmp_path / "ec.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"ec", key, certificate, None, BestAvailableEncryption(b"pw")))
    app.config.update(DOCUMENT_SIGNING_P12=str(tmp_path / "ec.p12"), DOCUMENT_SIGNING_PASSWORD="pw")
    with app.app_context():
        assert signing.signing_key().signer.pades_template() is None
        donation_id = paid_donation(app, make_campaign())
        data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
        certificate_der = signing.signing_key().certificate_der
    assert signature_holds(data, certificate_der)
    changed = bytearray(data)
    changed[11] ^= 0x01  # in the header's binary comment, inside the signed bytes
    assert not signature_holds(bytes(changed), certificate_der)


def test_an_address_that_looks_like_the_signatures_place_or_spans_lines_is_signed(app, client):
    """seal() finds the signature dictionary where pydyf wrote it, not by searching the file, so an
    organization's own text cannot stand in for it; a line break in the address becomes ", "."""
    lookalike = "Jl. Contoh 1 /ByteRange [0 0000000000 0000000000 0000000000]/Contents <"
    app.config["ORG_ADDRESS"] = lookalike + "\r\nJakarta (Pusat)\n"
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
        data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
    assert signature_holds(data, _certificate(app))
    _reader, signature = _signature_dictionary(data)
    assert signature["/Location"] == lookalike + ", Jakarta (Pusat)"
