"""The ledger's pages name campaigns and link to them; the receipt-proof page's entry details."""
from __future__ import annotations

import re

from amanah.extensions import db
from campaigns.models import Campaign
from donations.models import Donation
from tests.factories.documents import make_campaign, paid_donation

EN = {"Accept-Language": "en"}
ID = {"Accept-Language": "id"}


def _gift(app, title="Air bersih untuk desa"):
    with app.app_context():
        campaign = make_campaign(title=title)
        donation_id = paid_donation(app, campaign)
        seq = db.session.get(Donation, donation_id).ledger_seq
        return campaign.public_id, campaign.slug, seq


def test_campaign_ledger_page_is_titled_with_the_name_and_links_back(app, client):
    public_id, slug, _ = _gift(app)
    page = client.get(f"/ledger/campaigns/{public_id}", headers=EN).get_data(as_text=True)
    assert "<title>Finances of campaign Air bersih untuk desa" in page
    assert re.search(r"<h1>Finances of campaign Air bersih untuk desa</h1>", page)
    assert f'href="/campaigns/{public_id}/{slug}"' in page and f"<code>{public_id}</code>" in page
    assert "Times on the ledger's pages are in UTC" in page


def test_ledger_tables_show_campaign_names_linking_to_their_ledger_pages(app, client):
    public_id, _, seq = _gift(app, title="Sumur untuk Kampung Sentani")
    page = client.get("/ledger", headers=EN).get_data(as_text=True)
    assert f'<a href="/ledger/campaigns/{public_id}">Sumur untuk Kampung Sentani</a>' in page
    assert seq >= 0


def test_an_entry_page_names_its_campaign_and_links_to_its_page_and_finances(app, client, monkeypatch):
    from ledger import names
    monkeypatch.setattr(names, "VERSION_SECONDS", 0)
    public_id, slug, seq = _gift(app, title="Sumur untuk Kampung Sentani")
    response = client.get(f"/ledger/entries/{seq}", headers=EN)
    page = response.get_data(as_text=True)
    assert f'Campaign: <a href="/campaigns/{public_id}/{slug}">Sumur untuk Kampung Sentani</a>' in page
    assert f'<a href="/ledger/campaigns/{public_id}">its finances</a>' in page
    with app.app_context():
        campaign = db.session.scalar(db.select(Campaign).where(Campaign.public_id == public_id))
        campaign.title = "Sumur bor untuk Kampung Sentani"
        db.session.commit()
    again = client.get(f"/ledger/entries/{seq}", headers={**EN, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 200 and "Sumur bor untuk Kampung Sentani" in again.get_data(as_text=True)


def test_a_renamed_campaign_shows_its_new_name(app, client, monkeypatch):
    from ledger import names
    monkeypatch.setattr(names, "VERSION_SECONDS", 0)  # read the names' version on every request
    public_id, _, _ = _gift(app)
    first = client.get(f"/ledger/campaigns/{public_id}", headers=EN)
    index = client.get("/ledger", headers=EN)
    with app.app_context():
        campaign = db.session.scalar(db.select(Campaign).where(Campaign.public_id == public_id))
        campaign.title = "Air bersih untuk Desa Sukamaju"
        db.session.commit()
    url = f"/ledger/campaigns/{public_id}"
    again = client.get(url, headers={**EN, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and "Air bersih untuk Desa Sukamaju" in again.get_data(as_text=True)
    index_again = client.get("/ledger", headers={**EN, "If-None-Match": index.headers["ETag"]})
    assert index_again.status_code == 200
    assert "Air bersih untuk Desa Sukamaju" in index_again.get_data(as_text=True)
    unchanged = client.get(url, headers={**EN, "If-None-Match": again.headers["ETag"]})
    assert unchanged.status_code == 304


def test_entry_summary_is_in_the_pages_language_with_the_campaign_and_wib_time(app, client):
    public_id, slug, seq = _gift(app)
    for headers, amount, zone in ((ID, "Rp 1.500.000", r"\d\d\.\d\d WIB"),
                                  (EN, "IDR 1,500,000", r"\d\d:\d\d WIB")):
        body = client.get(f"/ledger/entries/{seq}/summary.json", headers=headers).get_json()
        assert body["amount"].replace("\xa0", " ") == amount and re.search(zone, body["at"])
        assert body["campaign"] == {"id": public_id, "title": "Air bersih untuk desa",
                                    "url": f"/campaigns/{public_id}/{slug}",
                                    "ledger_url": f"/ledger/campaigns/{public_id}"}
        assert len(body["leaf_hash"]) == 64 and body["entry_url"] == f"/ledger/entries/{seq}"
    assert client.get("/ledger/entries/999999/summary.json").status_code == 404


def test_receipt_proof_page_carries_every_verdict_and_reason_in_its_language(client):
    page = client.get("/ledger/receipt-proof", headers=ID).get_data(as_text=True)
    for text in ('data-ok-title="Terverifikasi"', 'data-bad-title="TIDAK terverifikasi"',
                 'data-reason-not-included="Bukti inklusi tidak', 'data-reason-bad-signature="Tanda tangan',
                 'data-reason-damaged="Bukti dalam tautan ini rusak'):
        assert text in page, text
    english = client.get("/ledger/receipt-proof", headers=EN).get_data(as_text=True)
    assert 'data-reason-not-included="The inclusion proof does not lead' in english
