"""PAdES signatures on every issued PDF (pyHanko), so that any PDF reader shows who issued it and
that not a byte changed since.

The key and certificate come from a PKCS#12 file (DOCUMENT_SIGNING_P12, its password in
DOCUMENT_SIGNING_PASSWORD), required in production. In development and tests a self-signed
certificate (RSA 2048, named after ORG_NAME) is generated once into the instance folder, like the
other generated keys. The signature covers the whole file, the PDF/A-3b attachments included; the
signed bytes are what is stored and served. Without a timestamp authority the signature field and
dictionary are written with the document (SignatureSlot) and signed right after (PAdES-B-B, the
signing time the signer states); with DOCUMENT_SIGNING_TSA_URL pyHanko signs the finished file as
an incremental update carrying an RFC 3161 timestamp from that authority (PAdES-B-T).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pydyf
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import current_app
from flask_babel import lazy_gettext as _l

from amanah.config import ConfigError

GENERATED_P12 = "document-signing.p12"
FIELD_NAME = "AmanahSignature"
RESERVED_BYTES = 8192  # a CMS container with an RSA 4096 signature and a chain of four certificates
TIMESTAMP_BYTES = 8192

# How the pages name the parts of the certificate's subject, in the reader's language; `subject`
# (asn1crypto's "Common Name: ...; Organization: ...") is English, for logs and tests. A part not
# listed keeps its RFC 4514 name (serialNumber, or a dotted OID), as certificate viewers show it.
SUBJECT_LABELS = {
    NameOID.COMMON_NAME: _l("Name"),
    NameOID.ORGANIZATION_NAME: _l("Organization"),
    NameOID.ORGANIZATIONAL_UNIT_NAME: _l("Organizational unit"),
    NameOID.LOCALITY_NAME: _l("City"),
    NameOID.STATE_OR_PROVINCE_NAME: _l("Province"),
    NameOID.COUNTRY_NAME: _l("Country"),
    NameOID.EMAIL_ADDRESS: _l("E-mail address"),
}


@dataclass(frozen=True)
class SigningKey:
    signer: object  # pyhanko.sign.signers.SimpleSigner
    certificate_der: bytes
    subject: str

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), as 64 hex digits in pairs, the way readers show it."""
        digest = hashlib.sha256(self.certificate_der).hexdigest().upper()
        return ":".join(digest[i:i + 2] for i in range(0, 64, 2))

    def warm(self) -> None:
        """Parse the private key now (before forking render processes, which then inherit it)."""
        self.signer.sign_raw(b"warm-up", "sha256")

    @property
    def subject_parts(self) -> list[tuple[str, str]]:
        """The certificate's subject as (label in the current language, value), in its order."""
        certificate = x509.load_der_x509_certificate(self.certificate_der)
        return [(str(SUBJECT_LABELS.get(part.oid, part.rfc4514_attribute_name)), str(part.value))
                for part in certificate.subject]

    @property
    def pem(self) -> str:
        certificate = x509.load_der_x509_certificate(self.certificate_der)
        return certificate.public_bytes(serialization.Encoding.PEM).decode()


def generate_p12(path: Path, common_name: str, organization: str, password: bytes | None = None) -> None:
    """A self-signed RSA 2048 signing certificate and its key, as a PKCS#12 file (mode 0600).

    Written under a private name and linked into place: processes starting at once agree on one."""

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "ID")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_cert_sign=True,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    data = pkcs12.serialize_key_and_certificates(b"amanah-documents", key, certificate, None, encryption)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _p12_location(config) -> tuple[Path, bytes | None]:
    password = config.get("DOCUMENT_SIGNING_PASSWORD")
    if config.get("DOCUMENT_SIGNING_P12"):
        return Path(config["DOCUMENT_SIGNING_P12"]), password.encode() if password else None
    path = Path(current_app.instance_path) / GENERATED_P12
    if not path.exists():
        generate_p12(path, f"{config['ORG_NAME']} (document signing, development)", config["ORG_NAME"])
    return path, None


_keys: dict[tuple, SigningKey] = {}
_keys_lock = threading.Lock()


def signing_key() -> SigningKey:
    """The configured key, loaded once per process (and file)."""
    config = current_app.config
    path, password = _p12_location(config)
    # Not per process: forked render processes use the key their parent parsed.
    cache_key = (str(path), password)
    with _keys_lock:
        found = _keys.get(cache_key)
        if found is None:
            found = _keys[cache_key] = _load(path, password)
        return found


# The signed attributes a template may hold: none of them changes from one document to the next
# except the message digest (PAdES puts the signing time in the signature dictionary, not here).
_CONSTANT_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_certificate_v2",
                                  "signing_certificate", "cms_algorithm_protection"})
_TEMPLATE_DIGEST = hashlib.sha256(b"amanah: the place of the document's digest in a CMS template").digest()


class _CmsTemplate:
    """One signature container built by pyHanko, with the places of the two things that change
    from one document to the next: the message digest (in the signed attributes) and the RSA
    signature over those attributes.

    pyHanko assembles each container from asn1crypto objects and serializes them again, which took
    nine tenths of a signature's time (about 11 ms of 12); an RSA PKCS#1 v1.5 signature has the
    key's length whatever it signs and a SHA-256 digest 32 bytes, so every container of one key
    has the same DER layout and only those bytes differ. pyHanko still writes the PDF's signature
    dictionary, byte range and incremental update; a container filled here is byte for byte the
    one pyHanko would have built for that digest, which the tests check."""

    def __init__(self, container: bytes, digest_at: int, attrs_at: int, attrs_end: int,
                 signature_at: int, signature_len: int):
        self.container, self.digest_at = container, digest_at
        self.attrs_at, self.attrs_end = attrs_at, attrs_end
        self.signature_at, self.signature_len = signature_at, signature_len

    @classmethod
    def from_container(cls, info) -> _CmsTemplate | None:
        """The template of pyHanko's container `info` (made for _TEMPLATE_DIGEST), or None when it
        holds anything that may change between documents (a timestamp, a signing time)."""
        signer_info = info["content"]["signer_infos"][0]
        types = {attribute["type"].native for attribute in signer_info["signed_attrs"]}
        if not types <= _CONSTANT_ATTRIBUTES or signer_info["unsigned_attrs"].native:
            return None
        container = info.dump()
        attrs = signer_info["signed_attrs"].dump()
        signature = signer_info["signature"].native
        if (container.count(attrs) != 1 or attrs.count(_TEMPLATE_DIGEST) != 1
                or container.count(signature) != 1):
            return None
        attrs_at = container.index(attrs)
        return cls(container, attrs_at + attrs.index(_TEMPLATE_DIGEST), attrs_at, attrs_at + len(attrs),
                   container.index(signature), len(signature))

    def fill(self, digest: bytes, sign) -> bytes:
        """The container for a document whose digest is `digest`; `sign(data)` signs the DER
        of the signed attributes."""
        if len(digest) != len(_TEMPLATE_DIGEST):
            raise ValueError("digest of another length than the template's")
        out = bytearray(self.container)
        out[self.digest_at:self.digest_at + len(digest)] = digest
        # Signed as a SET OF (tag 0x31); stored with the implicit tag [0] (0xA0), same length.
        signed = b"\x31" + bytes(out[self.attrs_at + 1:self.attrs_end])
        signature = sign(signed)
        if len(signature) != self.signature_len:
            raise ValueError("signature of another length than the template's")
        out[self.signature_at:self.signature_at + len(signature)] = signature
        return bytes(out)


def _signer_class():
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.signers import SimpleSigner

    class KeptKeySigner(SimpleSigner):
        """SimpleSigner, with its private key parsed once (SimpleSigner parses it on every
        signature, and parsing, with RSA's key check, costs a hundred times the signing), and its
        CMS containers filled in from a template (_CmsTemplate) when nothing in them varies but
        the digest."""

        _kept = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._templates: dict = {}

        def _rsa_pkcs1(self, digest_algorithm: str) -> bool:
            if self._kept is None:
                self._kept = serialization.load_der_private_key(self.signing_key.dump(), password=None)
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)["algorithm"].native
            return (isinstance(self._kept, rsa.RSAPrivateKey)
                    and mechanism in ("rsassa_pkcs1v15", "sha256_rsa"))

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            if self._rsa_pkcs1(digest_algorithm):
                return self._kept.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
            return super().sign_raw(data, digest_algorithm)

        async def async_sign(self, data_digest: bytes, digest_algorithm: str, dry_run=False,
                             use_pades=False, timestamper=None, signed_attr_settings=None,
                             is_pdf_sig=True, encap_content_info=None):
            simple = (not dry_run and timestamper is None and encap_content_info is None and is_pdf_sig
                      and len(data_digest) == len(_TEMPLATE_DIGEST) and self._rsa_pkcs1(digest_algorithm))
            if not simple:
                return await super().async_sign(
                    data_digest, digest_algorithm, dry_run=dry_run, use_pades=use_pades,
                    timestamper=timestamper, signed_attr_settings=signed_attr_settings,
                    is_pdf_sig=is_pdf_sig, encap_content_info=encap_content_info)
            # Whatever else the caller asks to be signed makes a template of its own.
            key = (digest_algorithm, use_pades,
                   repr(getattr(signed_attr_settings, "cades_signed_attrs", None)),
                   repr(getattr(signed_attr_settings, "adobe_revinfo_attr", None)))
            if key not in self._templates:
                made = await super().async_sign(_TEMPLATE_DIGEST, digest_algorithm, use_pades=use_pades,
                                                signed_attr_settings=signed_attr_settings)
                self._templates[key] = _CmsTemplate.from_container(made)
            template = self._templates[key]
            if template is None:
                return await super().async_sign(
                    data_digest, digest_algorithm, use_pades=use_pades,
                    signed_attr_settings=signed_attr_settings)
            container = template.fill(data_digest, lambda data: self.sign_raw(data, digest_algorithm))
            return cms.ContentInfo.load(container)

        def pades_template(self) -> _CmsTemplate | None:
            """The template of this key's PAdES containers (SHA-256), made on first use; None if
            its containers vary in more than digest and signature (then each is built whole)."""
            key = ("sha256", True, "None", "None")  # async_sign's key without signed_attr_settings
            if key not in self._templates:
                asyncio.run(self.async_sign(_TEMPLATE_DIGEST, "sha256", use_pades=True))
                self._templates.setdefault(key, None)  # not RSA PKCS#1: async_sign made none
            return self._templates[key]

        def pades_container(self, digest: bytes) -> bytes:
            """The DER of the CMS container of a PAdES signature over a SHA-256 `digest`: the one
            async_sign() makes, without an event loop once the template exists."""
            template = self.pades_template()
            if template is not None and len(digest) == len(_TEMPLATE_DIGEST):
                return template.fill(digest, lambda data: self.sign_raw(data, "sha256"))
            return asyncio.run(self.async_sign(digest, "sha256", use_pades=True)).dump()

    return KeptKeySigner


def _load(path: Path, password: bytes | None) -> SigningKey:
    from pyhanko.sign.signers import SimpleSigner
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"DOCUMENT_SIGNING_P12: cannot read {path}: {exc.strerror}") from None
    try:
        loaded = SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=password)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"DOCUMENT_SIGNING_P12: {path} is not a PKCS#12 file this "
                          f"DOCUMENT_SIGNING_PASSWORD opens ({exc})") from None
    if loaded is None:
        raise ConfigError(f"DOCUMENT_SIGNING_P12: {path} is not a PKCS#12 file this "
                          "DOCUMENT_SIGNING_PASSWORD opens")
    signer = _signer_class()(signing_cert=loaded.signing_cert, signing_key=loaded.signing_key,
                             cert_registry=loaded.cert_registry)
    certificate = signer.signing_cert
    return SigningKey(signer, certificate.dump(), certificate.subject.human_friendly)


def check_configured(app) -> None:
    """Load the key at startup, so a production start with a missing or locked file stops there."""
    with app.app_context():
        signing_key()


def timestamp_authority() -> str | None:
    return current_app.config.get("DOCUMENT_SIGNING_TSA_URL") or None


# Ten digits per offset: room for files up to 10 GB, rewritten in place once the offsets are known.
_BYTE_RANGE_SLOT = b"[0 0000000000 0000000000 0000000000]"
_SLOT_HEAD = b"/ByteRange " + _BYTE_RANGE_SLOT + b"/Contents <"


def _one_line(text: str) -> str:
    """An organization's address may span lines; a reader would read a line break inside a PDF
    string back as a bare LF, so the signature's place and reason hold one line."""
    return ", ".join(part.strip() for part in text.splitlines() if part.strip())


def _pdf_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("D:%Y%m%d%H%M%S+00'00'")


class _PlainDictionary(pydyf.Dictionary):
    """A dictionary pydyf writes as it is, never inside a compressed object stream."""
    compressible = False


class SignatureSlot:
    """A PAdES signature written in the same pass as the document, then sealed.

    Called by WeasyPrint as its finisher, it adds to the PDF about to be written what pyHanko's
    incremental update would add: an invisible signature field on the first page, the AcroForm
    that lists it, the ETSI extension declaration, and a signature dictionary whose byte range and
    /Contents are placeholders of fixed width. seal() then writes the real byte range (every byte
    but /Contents) and the CMS container over those bytes, built by pyHanko (through the key's
    template). Reading the finished file back and appending an update, as pyHanko's sign_pdf does,
    took about 3 ms of every first rendering. The signature dictionary stays out of the compressed
    object stream, where its /Contents could not be excluded from the byte range.
    """

    def __init__(self, reason: str, location: str, signed_at: dt.datetime | None = None):
        self.reason, self.location = _one_line(reason)[:200], _one_line(location)[:200]
        self.signed_at = signed_at or dt.datetime.now(dt.UTC)
        self.signer = signing_key().signer
        self.signature = None
        # Room for exactly the container when the key has a template (every container of it has
        # one length): no zero padding inside /Contents, and a file 13 KB smaller.
        template = self.signer.pades_template()
        self.room = len(template.container) if template is not None else RESERVED_BYTES

    def __call__(self, document, pdf) -> None:
        # Byte range and contents first: seal() finds them right after the object's header, at the
        # offset pydyf records for it, whatever the organization's name and address hold.
        signature = self.signature = _PlainDictionary({
            "ByteRange": _BYTE_RANGE_SLOT, "Contents": b"<" + b"0" * (2 * self.room) + b">",
            "Type": "/Sig", "Filter": "/Adobe.PPKLite", "SubFilter": "/ETSI.CAdES.detached",
            "M": pydyf.String(_pdf_date(self.signed_at)), "Reason": pydyf.String(self.reason),
            "Location": pydyf.String(self.location)})
        pdf.add_object(signature)
        page = pdf.objects[pdf.pages["Kids"][0]]  # pydyf keeps Kids as (number, 0, "R") triples
        field = pydyf.Dictionary({
            "Type": "/Annot", "Subtype": "/Widget", "FT": "/Sig", "T": pydyf.String(FIELD_NAME),
            "F": 132, "Rect": pydyf.Array([0, 0, 0, 0]), "P": page.reference, "V": signature.reference})
        pdf.add_object(field)
        if "Annots" in page:
            page["Annots"].append(field.reference)
        else:
            page["Annots"] = pydyf.Array([field.reference])
        if "AcroForm" in pdf.catalog:
            raise RuntimeError("documents have no form of their own to add the signature field to")
        pdf.catalog["AcroForm"] = pydyf.Dictionary({"Fields": pydyf.Array([field.reference]), "SigFlags": 3})
        pdf.catalog["Extensions"] = pydyf.Dictionary({"ESIC": pydyf.Dictionary({
            "Type": "/DeveloperExtensions", "BaseVersion": "/1.7", "ExtensionLevel": 1})})

    def seal(self, data: bytes) -> bytes:
        """The written PDF, signed: byte range and CMS container in their places."""
        header = b"%d 0 obj\n<<" % self.signature.number
        at = self.signature.offset + len(header)
        if self.signature.offset <= 0 or not data.startswith(header + _SLOT_HEAD, self.signature.offset):
            raise RuntimeError("the written PDF does not hold the signature's place where pydyf put it")
        out = bytearray(data)
        ranges_at = at + len(b"/ByteRange ")
        start = at + len(_SLOT_HEAD) - 1  # the "<" of /Contents
        end = start + 2 + 2 * self.room  # after its ">"
        ranges = f"[0 {start} {end} {len(out) - end}]".encode()
        out[ranges_at:ranges_at + len(_BYTE_RANGE_SLOT)] = ranges.ljust(len(_BYTE_RANGE_SLOT))
        view = memoryview(out)
        digest = hashlib.sha256(view[:start])
        digest.update(view[end:])
        view.release()
        container = self.signer.pades_container(digest.digest()).hex().upper().encode()
        if len(container) > 2 * self.room:
            raise RuntimeError("the signature container outgrew its reserved room")
        out[start + 1:start + 1 + len(container)] = container
        return bytes(out)


def sign_pdf(pdf: bytes, reason: str, location: str) -> bytes:
    """`pdf` with a PAdES signature over all of it, as an incremental update by pyHanko (used with a
    timestamp authority; SignatureSlot otherwise)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    key = signing_key()
    tsa_url = timestamp_authority()
    timestamper = None
    if tsa_url:
        from pyhanko.sign.timestamps import HTTPTimeStamper
        timestamper = HTTPTimeStamper(tsa_url, timeout=10)
    meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES, reason=reason[:200],
                                        location=location[:200])
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    # A fixed reservation for the signature container, so pyHanko does not sign once more to
    # measure it; a timestamp token needs room of its own.
    reserved = RESERVED_BYTES + (TIMESTAMP_BYTES if timestamper else 0)
    out = signers.sign_pdf(writer, meta, signer=key.signer, timestamper=timestamper, bytes_reserved=reserved)
    return out.getvalue()
