"""What a taxpayer needs from a receipt: the donor's NPWP as given on the donate form (checked),
the purpose, the gift and the covered fee on separate lines with the total, each in words, and
wording that never claims the gift is deductible."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from amanah.money import format_money
from campaigns import categories
from documents import receipts
from documents.words import amount_in_words
from donations import fees
from donations.dashboard import guest_token
from donations.models import Donation
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, pdf_text


def _give(client, public_id: str, **extra):
    form = {"preset": "custom", "custom_amount": "50.000", "name": "Budi Santoso",
            "email": "budi@example.org", **extra}
    confirm = client.post(f"/campaigns/{public_id}/give", data=form)
    assert confirm.status_code == 200 and b'name="confirmed" value="1"' in confirm.data
    response = client.post(f"/campaigns/{public_id}/give", data={**form, "confirmed": "1"})
    assert response.status_code == 303, response.data[-2000:]
    paid = client.post(response.location, data={"choice": "pay"})
    assert paid.status_code == 303
    return confirm


@pytest.mark.parametrize("written", ["01.234.567.8-901.000", "012345678901000", "3201234567890123",
                                     " 3201 2345 6789 0123 "])
def test_a_guest_npwp_in_either_format_reaches_the_receipt(app, client, written):
    with app.app_context():
        public_id = make_campaign().public_id
    confirm = _give(client, public_id, npwp=written)
    digits = re.sub(r"\D", "", written)
    shown = "01.234.567.8-901.000" if len(digits) == 15 else digits
    assert shown.encode() in confirm.data or written.encode() in confirm.data
    with app.app_context():
        donation = db.session.execute(sa.select(Donation)).scalar_one()
        assert donation.donor_npwp == digits
        receipt = receipts.receipt_of(donation.id)
        assert receipt.content["donor"]["npwp"] == digits
        data, _ = receipts.document_pdf(receipt)
    text = " ".join(pdf_text(data).split())
    assert shown in text and "Budi Santoso" in text


@pytest.mark.parametrize("written", ["12345", "01.234.567.8-901.0000000", "NPWP0123456789012",
                                     "0123456789O1234"])
def test_a_bad_npwp_is_refused_next_to_its_field_and_nothing_is_written(app, client, written):
    with app.app_context():
        public_id = make_campaign().public_id
    form = {"preset": "5000000", "name": "A", "email": "a@example.org", "npwp": written, "confirmed": "1"}
    response = client.post(f"/campaigns/{public_id}/give", data=form, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert b'id="npwp-error"' in response.data
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Donation)).scalar_one() == 0


def test_a_signed_in_donor_gives_the_profile_npwp_by_default(app, client):
    with app.app_context():
        donor = make_user(npwp="012345678901000")
        public_id = make_campaign().public_id
        login(client, donor)
    page = client.get(f"/campaigns/{public_id}/give")
    assert b'value="01.234.567.8-901.000"' in page.data


def test_covered_fee_is_itemized_with_the_total_and_each_amount_in_words(app, client):
    with app.app_context():
        campaign = make_campaign()
        public_id, category = campaign.public_id, campaign.category
    _give(client, public_id, cover_fee="y")
    with app.app_context():
        donation = db.session.execute(sa.select(Donation)).scalar_one()
        fee = fees.fee_to_cover(5_000_000, "IDR")
        assert (donation.amount, donation.fee_covered, donation.total) == (5_000_000, fee, 5_000_000 + fee)
        receipt = receipts.receipt_of(donation.id)
        data, _ = receipts.document_pdf(receipt)
        category_label = categories.label(category)
    text = " ".join(pdf_text(data).split())
    for minor in (5_000_000, fee, 5_000_000 + fee):
        figures, words = format_money(minor, "IDR", "id"), amount_in_words(minor, "IDR", "id")
        # The words follow their own figures, not another amount's.
        assert f"{figures} {words}" in text, (figures, words)
    assert category_label in text
    assert "tidak menyatakan bahwa donasi ini dapat dikurangkan" in text


def test_a_receipt_without_a_covered_fee_shows_one_amount(app, client):
    from tests.factories.documents import paid_donation
    with app.app_context():
        donation_id = paid_donation(app, make_campaign(), amount=150_000_000, locale="en")
        data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
    text = " ".join(pdf_text(data).split())
    assert "IDR 1,500,000 one million five hundred thousand rupiah" in text
    assert "Total paid" not in text and "fee" not in text.lower().split("deductible")[0]
    assert "does not state that it is deductible" in text


@pytest.mark.parametrize("language", ["en", "id"])
def test_the_receipt_is_issued_in_the_language_the_donor_gave_in(app, client, language):
    with app.app_context():
        public_id = make_campaign().public_id
    headers = {"Accept-Language": language}
    form = {"preset": "custom", "custom_amount": "50000" if language == "en" else "50.000", "name": "Budi",
            "email": "budi@example.org", "cover_fee": "y", "npwp": "01.234.567.8-901.000"}
    assert client.post(f"/campaigns/{public_id}/give", data=form, headers=headers).status_code == 200
    response = client.post(f"/campaigns/{public_id}/give", data={**form, "confirmed": "1"}, headers=headers)
    assert response.status_code == 303
    client.post(response.location, data={"choice": "pay"}, headers=headers)
    with app.app_context():
        donation = db.session.execute(sa.select(Donation)).scalar_one()
        assert donation.locale == language
        token_url = f"/donations/view/{guest_token(donation)}/receipt.pdf"
        fee = donation.fee_covered
    # Downloaded later in the other language: the receipt keeps the donor's.
    other = "id" if language == "en" else "en"
    text = " ".join(pdf_text(client.get(token_url, headers={"Accept-Language": other}).data).split())
    total_words = amount_in_words(5_000_000 + fee, "IDR", language)
    assert total_words in text
    if language == "en":
        assert "Processing fee covered by the donor" in text and "Total paid" in text
        assert "Donor's NPWP 01.234.567.8-901.000" in text
    else:
        assert "Biaya pemrosesan yang ditanggung donatur" in text and "Total dibayar" in text
        assert "NPWP donatur 01.234.567.8-901.000" in text
