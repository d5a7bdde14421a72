"""Cover the fee: the gift grossed up with the provider's fee formula, and the finances panel."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from amanah.money import display_digits, exponent
from donations import fees
from donations.models import Donation
from tests.factories.giving import entries, make_campaign, pending

EN = {"Accept-Language": "en"}


def test_the_issue_example_rp_75000(app):
    with app.app_context():
        # 3.4% + Rp 2.000 on Rp 79.711 is Rp 4.710,18: the campaign nets Rp 75.000,82.
        assert fees.gross_up(7_500_000, "IDR") == 7_971_100
        assert fees.processor_fee_estimate(7_971_100, "IDR") == 471_018
        assert fees.net_of_fee(7_971_100, "IDR") == 7_500_082
        assert fees.net_of_fee(7_971_000, "IDR") < 7_500_000  # one rupiah less would not do


@pytest.mark.parametrize("currency", ["IDR", "USD", "JPY", "EUR"])
@pytest.mark.parametrize("amount", [1, 99, 10_000, 1_000_000, 7_500_000, 12_345_678, 10**11 + 7])
def test_gross_up_is_the_smallest_whole_total_that_nets_the_gift(app, currency, amount):
    with app.app_context():
        step = 10 ** (exponent(currency) - display_digits(currency))
        total = fees.gross_up(amount, currency)
        assert total % step == 0 and total > amount
        assert fees.net_of_fee(total, currency) >= amount
        assert fees.net_of_fee(total - step, currency) < amount
        assert fees.fee_to_cover(amount, currency) == total - amount


@pytest.mark.parametrize("rate", [0, 1, 340, 2_900, 9_999])
def test_gross_up_holds_for_any_configured_rate(app, rate, monkeypatch):
    monkeypatch.setitem(app.config, "DONATION_FEE_RATE_BP", rate)
    with app.app_context():
        for amount in (100, 2_500_000, 7_500_000):
            total = fees.gross_up(amount, "IDR")
            assert fees.net_of_fee(total, "IDR") >= amount > fees.net_of_fee(total - 100, "IDR")


def test_a_covered_sandbox_gift_nets_the_campaign_the_gift(app, client):
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id
        donation_id, checkout_id = pending(app, campaign, amount=7_500_000, cover_fee=True)
    assert client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"}).status_code == 303
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert (donation.amount, donation.fee_covered, donation.total) == (7_500_000, 471_100, 7_971_100)
        net = sum(entry.amount for entry in entries())
        assert donation.processor_fee == 471_018 and 7_500_000 <= net < 7_500_100
    page = client.get(f"/campaigns/{public_id}", headers=EN, follow_redirects=True).get_data(as_text=True)
    section = page[page.index('class="covered-fees"'):]
    assert re.search(r'data-figure="covered-added">IDR 4,711', section)
    assert "more than the fees: it stays with the campaign" in section


def test_a_provider_fee_above_the_estimate_shows_what_the_campaign_bore(app, client):
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id
        donation_id, checkout_id = pending(app, campaign, amount=7_500_000, cover_fee=True)
    client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"})
    with app.app_context():
        # as if the real provider had charged Rp 4.876 where Rp 4.711 was added
        db.session.execute(sa.update(Donation).where(Donation.id == donation_id)
                           .values(processor_fee=487_600))
        db.session.commit()
    page = client.get(f"/campaigns/{public_id}", headers={"Accept-Language": "id"}, follow_redirects=True)
    page = page.get_data(as_text=True)
    section = page[page.index('class="covered-fees"'):]
    assert "Rp 4.876" in section and "Rp 165" in section


def test_no_panel_when_no_donor_covered_a_fee(app, client):
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id
        _, checkout_id = pending(app, campaign, amount=7_500_000, cover_fee=False)
    client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"})
    page = client.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
    assert "Air bersih untuk desa" in page and 'class="covered-fees"' not in page


@pytest.mark.parametrize("method", ["card", "qris", "va_bca", "ovo", "dana", "shopeepay", "linkaja"])
def test_covering_the_fee_nets_the_gift_whatever_the_method(app, client, method):
    """Each method's own fee formula grosses the gift up (in the sandbox, which charges it exactly):
    the campaign keeps the gift, and at most a rupiah or two of rounding more."""
    with app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(app, campaign, amount=7_500_000, cover_fee=True, method=method)
    assert client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"}).status_code == 303
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.payment_method == method and donation.fee_covered > 0
        net = sum(entry.amount for entry in entries())
        assert donation.total - donation.processor_fee == net
        assert 7_500_000 <= net < 7_500_000 + 200, (method, donation.fee_covered, donation.processor_fee)
        assert donation.processor_fee == fees.fee_for(donation.total, "IDR", method)
