"""Receipts, credit notes, cancellations: numbering, content, one-time rendering, access, QR proof.

- A receipt is issued in the transaction that confirms the donation (giving._mark_paid), a credit
  note in the transaction that records a refund (giving._apply_refunds), and a cancellation of
  that credit note in the one that records the refund's reversal (giving._reverse_refund). Each
  takes the next number of its series for the year from a counter row incremented in that same
  transaction, so a number is used exactly when its document commits: gapless, and never twice.
- What a document shows is copied into `Document.content` when it is issued. The PDF is rendered
  from that copy on first download and stored with its SHA-256; every later download returns
  those bytes, whatever templates or profiles say by then.
- The QR code holds a link to /ledger/receipt-proof whose fragment is a C2SP tlog-proof of the
  ledger entry (its `extra` line carries the entry's leaf hash), verifiable offline. The entry
  itself is attached to the PDF, so anyone can check that it hashes to that leaf hash.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from amanah.db import now_utc
from amanah.extensions import db
from amanah.i18n import format_wib
from amanah.links import absolute_url
from amanah.money import format_money
from campaigns import categories
from campaigns.models import Campaign
from campaigns.services import WIB
from documents import qr
from documents.issuer import issuer_of
from documents.models import Document, DocumentCounter, DocumentKind
from documents.pdf import FileAttachment, render_pdf
from documents.words import amount_in_words
from donations import methods
from donations.models import Donation, DonationStatus, Refund
from ledger import cosignature, queries, storage, witnesses
from organizations.services import format_npwp

MASK = 4
# Receipts issued before they named the donor's channel say only who processed the payment.
PAYMENT_METHODS = {"stripe": _l("Card payment (Stripe)"),
                   "xendit": _l("QRIS, bank transfer or e-wallet (Xendit)"),
                   "sandbox": _l("Sandbox (test payment, no real money)")}
PROVIDER_NAMES = {"stripe": "Stripe", "xendit": "Xendit", "sandbox": _l("Sandbox, no real money")}


def payment_text(provider: str, channel: str | None) -> str:
    """How the gift was paid, as the receipt says it: the donor's channel and who processed it
    ("Bank transfer: BCA virtual account (Xendit)"), or only the processor for receipts whose
    content has no channel."""
    method = methods.BY_CODE.get(channel or "")
    if method is None:
        return str(PAYMENT_METHODS.get(provider, provider))
    # QRIS's label on the donate form also says how to scan; a receipt needs only the name.
    name = "QRIS" if method.kind == methods.QRIS else method.label
    return str(_l("%(method)s (%(provider)s)", method=name, provider=PROVIDER_NAMES.get(provider, provider)))


# ---- numbering ----

SERIES_SUFFIX = {DocumentKind.RECEIPT: "", DocumentKind.CREDIT_NOTE: "-CN", DocumentKind.CANCELLATION: "-CX"}
TEMPLATES = {DocumentKind.RECEIPT: "receipt.html", DocumentKind.CREDIT_NOTE: "credit_note.html",
             DocumentKind.CANCELLATION: "cancellation.html"}


def series_for(kind: DocumentKind) -> str:
    return current_app.config["RECEIPT_PREFIX"] + SERIES_SUFFIX[DocumentKind(kind)]


def format_serial(series: str, year: int, number: int) -> str:
    return f"{series}-{year}-{number:06d}"


def next_number(series: str, year: int, count: int = 1) -> int:
    """Take the next `count` numbers of (series, year) in the caller's transaction; returns the
    last of them (the first is that minus count, plus one).

    One atomic upsert: the counter row stays locked until the transaction ends, so concurrent
    issuers queue on it, and a rolled-back transaction gives its numbers back.
    """
    return db.session.execute(_counter_upsert(db.session.get_bind().dialect.name),
                              {"series": series, "year": year, "count": count}).scalar_one()


@functools.lru_cache(maxsize=2)
def _counter_upsert(dialect: str):
    """Built once per dialect (the statement, not only its SQL, is reused: building it was a good
    part of a confirmation's time under the append lock)."""
    table = DocumentCounter.__table__
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    count = sa.bindparam("count", type_=sa.Integer)
    return (insert(table).values(series=sa.bindparam("series"), year=sa.bindparam("year"), last=count)
            .on_conflict_do_update(index_elements=["series", "year"], set_={"last": table.c.last + count})
            .returning(table.c.last))


def _issue(kind: DocumentKind, donation: Donation, content: dict, **links) -> Document:
    issued_at = now_utc()
    series, year = series_for(kind), issued_at.astimezone(WIB).year
    number = next_number(series, year)
    serial = format_serial(series, year, number)
    document = Document(kind=kind.value, serial=serial, series=series, year=year, number=number,
                        donation_id=donation.id, issued_at=issued_at,
                        content={**content, "serial": serial, "issued_at": issued_at.isoformat()}, **links)
    db.session.add(document)
    db.session.flush()
    return document


def issue_receipt(donation: Donation, leaf_hash: bytes) -> Document:
    """The receipt of a just-confirmed donation, numbered in the confirmation's transaction."""
    return _issue(DocumentKind.RECEIPT, donation, _receipt_content(donation, leaf_hash))


def issue_receipts(confirmed: list[tuple[Donation, bytes]]) -> list[str]:
    """The receipts of a batch of just-confirmed donations ((donation, leaf hash of its entry), in
    ledger order), numbered in that order in the confirmations' transaction; returns their serials.

    What issue_receipt does for each, with one counter upsert for the batch and one INSERT of its
    rows (no ORM objects: the batch's append lock is held meanwhile). The rows are the same."""
    if not confirmed:
        return []
    issued_at = now_utc()
    series, year = series_for(DocumentKind.RECEIPT), issued_at.astimezone(WIB).year
    first = next_number(series, year, len(confirmed)) - len(confirmed) + 1
    rows = []
    for number, (donation, leaf_hash) in enumerate(confirmed, start=first):
        serial = format_serial(series, year, number)
        rows.append({"kind": DocumentKind.RECEIPT.value, "serial": serial, "series": series, "year": year,
                     "number": number, "donation_id": donation.id, "issued_at": issued_at,
                     "content": {**_receipt_content(donation, leaf_hash), "serial": serial,
                                 "issued_at": issued_at.isoformat()}})
    db.session.execute(sa.insert(Document.__table__), rows)
    return [row["serial"] for row in rows]


def _receipt_content(donation: Donation, leaf_hash: bytes) -> dict:
    user = donation.user
    return {
        "kind": DocumentKind.RECEIPT.value,
        "locale": donation.locale,
        "organization": issuer_of(donation.campaign),
        # The NPWP given with the gift, else the signed-in donor's profile NPWP.
        "donor": {"name": donation.donor_name, "npwp": donation.donor_npwp or (user.npwp if user else None),
                  "nik": user.nik if user else None},
        # What was paid (`amount`), itemized: the gift, and the processing fee the donor chose to cover.
        "amount": donation.total,
        "gift": donation.amount,
        "fee_covered": donation.fee_covered,
        "currency": donation.currency,
        "received_at": donation.paid_at.isoformat(),
        "campaign": {"public_id": donation.campaign.public_id, "title": donation.campaign.title,
                     "category": donation.campaign.category},
        "payment_method": donation.provider,
        # The channel the donor chose (donations.methods: "qris", "va_bca", "ovo", "card"...).
        "payment_channel": donation.payment_method or methods.CARD,
        "ledger": {"seq": donation.ledger_seq, "leaf_hash": leaf_hash.hex()},
    }


def receipt_of(donation_id: int) -> Document | None:
    return db.session.execute(sa.select(Document).where(
        Document.donation_id == donation_id, Document.kind == DocumentKind.RECEIPT)).scalar_one_or_none()


def ensure_receipt(donation: Donation) -> Document | None:
    """The donation's receipt; a paid donation confirmed before receipts existed gets one now."""
    found = receipt_of(donation.id)
    if found is not None or donation.status != DonationStatus.PAID:
        return found
    storage.lock(db.session)  # numbers are taken in ledger order, as in the confirmation
    found = receipt_of(donation.id)
    return found or issue_receipt(donation, storage.leaf_hash_at(db.session, donation.ledger_seq))


def issue_missing_receipts() -> list[str]:
    """Receipts for paid donations that have none (confirmed before receipts existed), in ledger
    order; the caller commits. Returns the new serials."""
    storage.lock(db.session)
    missing = db.session.execute(
        sa.select(Donation).where(Donation.status == DonationStatus.PAID, ~sa.exists().where(
            Document.donation_id == Donation.id, Document.kind == DocumentKind.RECEIPT))
        .order_by(Donation.ledger_seq)).scalars().all()
    return [issue_receipt(d, storage.leaf_hash_at(db.session, d.ledger_seq)).serial for d in missing]


def issue_credit_note(refund: Refund, leaf_hash: bytes) -> Document:
    """A refund's credit note: a new numbered document referring to the receipt, never an edit of it."""
    donation = refund.donation
    receipt = ensure_receipt(donation)
    content = {
        "kind": DocumentKind.CREDIT_NOTE.value,
        "locale": donation.locale,
        "organization": issuer_of(donation.campaign),
        "donor": receipt.content["donor"],
        "amount": refund.amount,
        "currency": donation.currency,
        "refunded_at": now_utc().isoformat(),
        "receipt": {"serial": receipt.serial, "amount": receipt.content["amount"],
                    "issued_at": receipt.content["issued_at"]},
        "remaining": donation.total - donation.refunded,
        "campaign": receipt.content["campaign"],
        "ledger": {"seq": refund.ledger_seq, "leaf_hash": leaf_hash.hex()},
    }
    return _issue(DocumentKind.CREDIT_NOTE, donation, content, refund_id=refund.id, receipt_id=receipt.id)


def credit_note_of(refund_id: int) -> Document | None:
    return db.session.execute(sa.select(Document).where(
        Document.refund_id == refund_id, Document.kind == DocumentKind.CREDIT_NOTE)).scalar_one_or_none()


def issue_cancellation(refund: Refund, leaf_hash: bytes) -> Document | None:
    """The cancellation of a reversed refund's credit note (None if it never had one): the credit
    note stays as issued, and this new numbered document says it no longer applies."""
    credit_note = credit_note_of(refund.id)
    if credit_note is None:
        return None
    donation = refund.donation
    note = credit_note.content
    content = {
        "kind": DocumentKind.CANCELLATION.value,
        "locale": note["locale"],
        "organization": issuer_of(donation.campaign),
        "donor": note["donor"],
        "amount": refund.amount,
        "currency": donation.currency,
        "reversed_at": now_utc().isoformat(),
        "credit_note": {"serial": credit_note.serial, "amount": note["amount"],
                        "issued_at": note["issued_at"]},
        "receipt": note["receipt"],
        "remaining": donation.total - donation.refunded,
        "campaign": note["campaign"],
        "ledger": {"seq": refund.reversed_seq, "leaf_hash": leaf_hash.hex()},
    }
    return _issue(DocumentKind.CANCELLATION, donation, content, receipt_id=credit_note.receipt_id,
                  cancels_id=credit_note.id)


# ---- access ----

@dataclasses.dataclass(frozen=True)
class _TreasurerOnly:
    treasurer_id: int


@dataclasses.dataclass(frozen=True)
class DownloadAccess:
    """What deciding who may download a document needs, shaped like its donation for
    `can(user, Action.VIEW_DONATION_DOCUMENT, access)`: the donor's id and the campaign's treasurer."""
    id: int
    user_id: int | None
    campaign: _TreasurerOnly


_DOWNLOAD = (sa.select(Document.id, Donation.user_id.label("donor_id"), Campaign.treasurer_id)
             .join(Donation, Donation.id == Document.donation_id)
             .join(Campaign, Campaign.id == Donation.campaign_id)
             .where(Document.serial == sa.bindparam("serial")))


def download_access(serial: str) -> DownloadAccess | None:
    """The document with this number, its donor and its campaign's treasurer: all that deciding
    who may download it needs, in one query and without the PDF's bytes."""
    if len(serial) > 48:
        return None
    row = db.session.execute(_DOWNLOAD, {"serial": serial}).first()
    return row and DownloadAccess(row.id, row.donor_id, _TreasurerOnly(row.treasurer_id))


def get_by_serial(serial: str) -> Document | None:
    if len(serial) > 48:
        return None
    return db.session.execute(sa.select(Document).where(Document.serial == serial)).scalar_one_or_none()


def documents_of(donation_id: int) -> list[Document]:
    return list(db.session.execute(sa.select(Document).where(Document.donation_id == donation_id)
                                   .order_by(Document.id)).scalars())


# ---- rendering, once ----

def stored_pdf(document_id: int) -> tuple[bytes, str] | None:
    row = db.session.execute(
        sa.select(Document.pdf, Document.sha256).where(Document.id == document_id)).first()
    return None if row is None or row.pdf is None else (bytes(row.pdf), row.sha256)


def document_pdf(document: Document) -> tuple[bytes, str]:
    """(PDF bytes, SHA-256 hex): the stored rendering, or the first one, stored now and committed.

    The hash is loaded with the document (the bytes are deferred), so a document never rendered
    goes to rendering without a query first. One that another request stored after this one
    loaded it renders for nothing, and store_pdf's conditional UPDATE still serves the stored bytes."""
    if document.sha256 is not None:
        found = stored_pdf(document.id)
        if found is not None:
            return found
    stored = store_pdf(document.id, render_from_job(render_job(document)))
    db.session.commit()
    return stored


def store_pdf(document_id: int, pdf: bytes) -> tuple[bytes, str]:
    """Store a first rendering (the caller commits) and return what is stored.

    Two first downloads at once both render; the conditional UPDATE lets only one store, and the
    other answers with the stored bytes, so every download ever served is the same file.
    """
    digest = hashlib.sha256(pdf).hexdigest()
    # On the table, not the ORM entity: nothing in the session needs the bytes (the caller gets
    # them back), and the ORM's bulk-update bookkeeping cost a first download 0.3 ms.
    table = Document.__table__
    stored = db.session.execute(sa.update(table).where(table.c.id == document_id, table.c.pdf.is_(None))
                                .values(pdf=pdf, sha256=digest, rendered_at=now_utc()))
    if stored.rowcount == 1:
        return pdf, digest
    return stored_pdf(document_id)


def proof_for(seq: int) -> dict:
    """The entry's tlog-proof against a signed checkpoint that includes it (signed now if needed).

    `text` carries the log's signature only; `file_text` (attached to the PDF) adds the witness
    cosignatures collected so far. The QR code holds neither, only `url` (proof_link). Most arrive after the
    receipt is made: /ledger/checkpoints/<size> (`checkpoint_url`) serves them all, and the proof
    page and `python -m ledger.verify --cosigned-checkpoint` add them to the proof."""
    detail = queries.get_entry(seq, with_proof_hashes=True)  # one query less on PostgreSQL
    checkpoint, _signed = queries.proof_checkpoint(detail)
    bundle = queries.inclusion_bundle(detail, checkpoint)
    lines = ["c2sp.org/tlog-proof@v1", "extra " + base64.b64encode(bundle.leaf_hash).decode(),
             f"index {bundle.index}", *(base64.b64encode(h).decode() for h in bundle.proof)]
    head = "\n".join(lines) + "\n\n"
    text = head + bundle.checkpoint
    url = proof_link(bundle.index, bundle.leaf_hash)
    if detail.latest_cosignatures is not None and detail.latest_checkpoint[0] == bundle.size:
        cosigned = cosignature.add_signature_lines(bundle.checkpoint, detail.latest_cosignatures)
    else:
        cosigned = witnesses.cosigned_text(db.session, bundle.size, bundle.checkpoint)
    return {"text": text, "url": url, "leaf": bundle.leaf.decode(), "size": bundle.size,
            "root": bundle.root.hex(), "origin": bundle.checkpoint.split("\n", 1)[0],
            "checkpoint": bundle.checkpoint,
            "file_text": head + cosigned,
            "checkpoint_url": absolute_url("ledger.checkpoint_at", size=bundle.size)}


def proof_link(seq: int, leaf_hash: bytes) -> str:
    """What the QR code holds: the proof page's address and, after the #, the entry's number and
    its leaf hash (base64url): `.../ledger/receipt-proof#123-<43 characters>`.

    About 100 characters whatever the ledger's size, so the symbol stays small (version 5 or 6,
    37 to 41 modules across 50 mm) and scans from a 150 dpi print or a phone camera; the whole
    proof of a million-entry ledger (20 hashes and the checkpoint) made a 1,300-character link that
    only a 300 dpi render decoded. The page fetches the entry's proof from the public ledger and
    checks that it proves this leaf hash under a checkpoint signed with the ledger key; the proof
    itself stays attached to the PDF for checking offline."""
    return f"{proof_page_url()}#{seq}-{base64.urlsafe_b64encode(leaf_hash).decode().rstrip('=')}"


def proof_fragment(text: str) -> str:
    """The tlog-proof as a URL fragment: the text itself, percent-encoding only what must be.

    What receipts issued before proof_link carried in their QR code; the proof page still reads it."""
    return quote(text, safe="/+=@.:-_,")


def proof_page_url() -> str:
    """The public address of /ledger/receipt-proof, also from a background job (no request)."""
    return absolute_url("ledger_pages.receipt_proof")


def qr_data_uri(url: str) -> str:
    """segno.make(url, error="l", mask=MASK) as a PNG, one pixel per module (documents.qr makes
    the same symbol about ten times faster).

    Error correction L, raised as segno does to the highest level the symbol's version still holds;
    a fixed mask skips segno's evaluation of all eight (4x the encoding time). Any mask decodes
    the same."""
    return "data:image/png;base64," + base64.b64encode(qr.png(qr.matrix(url, MASK))).decode()


def receipt_lines(content: dict, locale: str) -> list[dict]:
    """The receipt's amounts, each in figures and in words: the gift alone, or, when the donor
    covered the processing fee, the gift, the fee and the total paid as three lines."""
    currency = content["currency"]

    def line(kind: str, label, minor: int) -> dict:
        return {"kind": kind, "label": str(label), "minor": minor,
                "text": format_money(minor, currency, locale),
                "words": amount_in_words(minor, currency, locale)}

    gift, fee = content.get("gift", content["amount"]), content.get("fee_covered", 0)
    if not fee:
        return [line("gift", _l("Donation"), gift)]
    return [line("gift", _l("Donation"), gift), line("fee", _l("Processing fee covered by the donor"), fee),
            line("total", _l("Total paid"), content["amount"])]


def _when(iso: str, locale: str) -> str:
    return format_wib(dt.datetime.fromisoformat(iso), locale)


def view_of(document: Document) -> dict:
    """What the template shows: the stored content plus formatted text and the proof. Plain data."""
    content = document.content
    locale = content["locale"]
    view = {**content, "proof": proof_for(content["ledger"]["seq"]),
            "amount_text": format_money(content["amount"], content["currency"], locale),
            "amount_words": amount_in_words(content["amount"], content["currency"], locale),
            "issued_text": _when(content["issued_at"], locale)}
    view["donor"] = {**content["donor"], "npwp": format_npwp(content["donor"].get("npwp"))}
    if document.kind == DocumentKind.RECEIPT:
        view["received_text"] = _when(content["received_at"], locale)
        category = content["campaign"].get("category")
        view["category_text"] = categories.label(category) if category else ""
        view["lines"] = receipt_lines(content, locale)
        view["payment_method_text"] = payment_text(content["payment_method"], content.get("payment_channel"))
        return view
    view["receipt_amount_text"] = format_money(content["receipt"]["amount"], content["currency"], locale)
    view["remaining_text"] = format_money(content["remaining"], content["currency"], locale)
    if document.kind == DocumentKind.CREDIT_NOTE:
        view["refunded_text"] = _when(content["refunded_at"], locale)
    else:
        view["reversed_text"] = _when(content["reversed_at"], locale)
        view["credit_note_issued_text"] = _when(content["credit_note"]["issued_at"], locale)
    return view


def render_job(document: Document) -> dict:
    """Everything needed to render the document, as plain data: the part that reads the database.

    Rendering it (render_from_job) needs no database, so a bulk job can hand it to other processes.
    """
    locale = document.content["locale"]
    with force_locale(locale):
        view = view_of(document)
    seq = view["ledger"]["seq"]
    return {
        "template": TEMPLATES[DocumentKind(document.kind)],
        "locale": locale, "view": view,
        "attachments": [
            (f"ledger-entry-{seq}.json", view["proof"]["leaf"].encode(),
             "The ledger entry, byte for byte as signed into the public ledger"),
            (f"ledger-entry-{seq}.tlog-proof", view["proof"]["file_text"].encode(),
             "Its inclusion proof (C2SP tlog-proof@v1): python -m ledger.verify --tlog-proof"),
        ],
    }


def render_from_job(job: dict) -> bytes:
    """The PDF for a render_job(): QR code, HTML, PDF/A-3b with the entry and proof attached."""
    view = {**job["view"], "qr": qr_data_uri(job["view"]["proof"]["url"])}
    attachments = [FileAttachment(name, data, description) for name, data, description in job["attachments"]]
    return render_pdf(job["template"], view, locale=job["locale"], attachments=attachments)
