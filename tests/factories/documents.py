"""Paying donations through the sandbox for document tests, and reading PDFs back."""
from __future__ import annotations

import datetime as dt
import io
import itertools

import sqlalchemy as sa

from accounts.models import Role
from amanah.db import now_utc
from amanah.extensions import db
from campaigns import categories, regions
from campaigns.models import Campaign
from documents.models import Document
from donations import giving
from donations.models import Donation
from donations.providers import get_gateway
from tests.factories import login, make_user

_slugs = itertools.count(1)


def make_campaign(treasurer=None, currency: str = "IDR", title: str = "Air bersih untuk desa") -> Campaign:
    organizer = make_user()
    treasurer = treasurer or organizer
    campaign = Campaign(slug=f"air-bersih-{next(_slugs)}", title=title, story="x" * 60, goal=10**10,
                        currency=currency, deadline=(now_utc() + dt.timedelta(days=30)).date(),
                        category=categories.CODES[0], region=regions.CODES[0], city="Bandung",
                        beneficiary="Warga desa", organizer_id=organizer.id, treasurer_id=treasurer.id,
                        status="published", published_at=now_utc())
    db.session.add(campaign)
    db.session.commit()
    return campaign


def paid_donation(app, campaign, *, amount: int = 150_000_000, user=None, name: str = "Siti Rahayu",
                  locale: str = "id", method: str = "card") -> int:
    """A donation confirmed through the sandbox provider and the real confirmation service
    (`method`: how the donor paid, a donations.methods code)."""
    with app.test_request_context():
        donation = giving.start_donation(campaign, amount=amount, donor_name=name, user=user,
                                         donor_email="siti@example.test", locale=locale, method=method)
        db.session.commit()
        checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
        db.session.commit()
        gateway = get_gateway()
        event = gateway.pay(checkout.id)
        db.session.commit()
        gateway.take_events()
        assert giving.handle_event(event) == "paid"
        return donation.id


def refund(app, donation_id: int, amount: int) -> None:
    with app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        gateway = get_gateway()
        gateway.create_refund(donation.payment_intent, amount, f"k-{donation_id}-{amount}", {})
        db.session.commit()
        (event,) = gateway.take_events()
        assert giving.handle_event(event) == "refunded 1"


def fail_refund(app, refund_id: int) -> str:
    """The provider reports the refund failed after it had succeeded (the donor's bank sent it back)."""
    from donations import sandbox
    from donations.models import Refund
    with app.test_request_context():
        row = db.session.get(Refund, refund_id)
        data = {**sandbox._get(row.provider_id), "status": "failed"}
        sandbox._put(data)
        db.session.commit()
        outcome = giving.handle_event({"id": f"evt_failed_{refund_id}", "object": "event",
                                       "type": "refund.failed", "data": {"object": data}})
        db.session.commit()
        return outcome


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_attachments(data: bytes) -> dict[str, bytes]:
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(data))
    return {name: contents[0] for name, contents in reader.attachments.items()}


def signature_status(data: bytes, certificate_der: bytes, *also_trusted):
    """pyHanko's validation of the PDF's one signature, trusting only `certificate_der` (and
    `also_trusted`, asn1crypto certificates: a timestamp authority's)."""
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    certificate = x509.Certificate.load(certificate_der)
    (signature,) = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate, *also_trusted]))


def signature_holds(data: bytes, certificate_der: bytes) -> bool:
    """Whether the document is signed over every byte by that certificate, unchanged since."""
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    try:
        status = signature_status(data, certificate_der)
    except Exception:  # a file changed so much that it cannot be read holds no signature either
        return False
    return bool(status.intact and status.valid and status.trusted
                and status.coverage == SignatureCoverageLevel.ENTIRE_FILE)


def every_document(app, client) -> dict[str, bytes]:
    """One of each kind, as served: receipt, credit note, cancellation, statement, reports."""
    with app.app_context():
        donor, treasurer = make_user(), make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        donation_id = paid_donation(app, campaign, user=donor)
        public_id, treasurer_id = campaign.public_id, treasurer.id
        login(client, donor)
    refund(app, donation_id, 50_000_000)
    with app.app_context():
        refund_id = db.session.execute(sa.text("SELECT id FROM donation_refunds")).scalar_one()
    fail_refund(app, refund_id)
    with app.app_context():
        serials = dict(db.session.execute(sa.select(Document.kind, Document.serial)).all())
        year = now_utc().year
    found = {kind: client.get(f"/receipts/{serial}.pdf").data for kind, serial in serials.items()}
    statement = f"/donations/mine/statement.pdf?from={year - 1}-01-01&to={year}-12-31"
    found["statement"] = client.get(statement).data
    found["impact_report"] = client.get(f"/campaigns/{public_id}/reports/impact.pdf").data
    with app.app_context():
        from accounts.models import User
        login(client, db.session.get(User, treasurer_id))
    found["campaign_report"] = client.get(f"/campaigns/{public_id}/documents/report.pdf").data
    return found
