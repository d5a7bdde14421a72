"""The donor dashboard's receipts come from the view, through the lookup documents hands to
donations at init_app (no Jinja global that queries, no import of documents from donations)."""
from __future__ import annotations

from flask import Flask

from amanah.extensions import db
from documents import receipts, statements
from donations import dashboard
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation


def test_documents_registers_its_lookup_and_the_globals_are_gone(app):
    assert app.extensions["donation_documents"] is statements.documents_by_donation
    assert "documents_by_donation" not in app.jinja_env.globals


def test_without_documents_no_donation_has_any():
    with Flask(__name__).app_context():
        assert dashboard.documents_of([object()]) == {}


def test_both_dashboard_pages_list_each_donations_receipt(app, client):
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        serial = receipts.receipt_of(donation_id).serial
        assert dashboard.documents_of(dashboard.donations_of(db.session.get(type(donor), donor.id))) == {
            donation_id: [("receipt", serial)]}
        login(client, donor)
    assert f"/receipts/{serial}.pdf" in client.get("/donations/mine").get_data(as_text=True)
    refused = client.get("/donations/mine/statement.pdf?from=2026-12-31&to=2026-01-01")  # bad range
    assert refused.status_code == 400 and f"/receipts/{serial}.pdf" in refused.get_data(as_text=True)


def test_both_dashboard_pages_link_the_ledger_entry_under_the_mount_point(app, client):
    """The links were written from the host's root: behind a proxy that mounts the app under a
    path (SCRIPT_NAME) they left the app."""
    from donations.models import Donation

    with app.app_context():
        donor = make_user()
        donation = db.session.get(Donation, paid_donation(app, make_campaign(), user=donor))
        seq, token = donation.ledger_seq, dashboard.guest_token(donation)
        login(client, donor)
    base = "http://localhost/amanah/"
    for page in ("/donations/mine", f"/donations/view/{token}"):
        body = client.get(page, base_url=base).get_data(as_text=True)
        assert f'href="/amanah/ledger/entries/{seq}"' in body and f'href="/ledger/entries/{seq}"' not in body
