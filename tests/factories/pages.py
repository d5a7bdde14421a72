"""Every page people open, with real path variables, on the demo data: the world of the
whole-app sweeps (tests/amanah/test_indonesian_pages.py and the others that import it).

`demo_world(app)` loads the demo data (`flask demo`) plus what the demo does not make (donations
waiting for their payment, a reconciliation run that left something unsettled, an anomaly) and
returns the people of each role and the pages: (endpoint, URL, takes a POST)."""
from __future__ import annotations

import itertools

import sqlalchemy as sa
from flask import url_for

from accounts.models import User
from amanah.db import now_utc
from amanah.demo import run_loaders
from amanah.extensions import db
from campaigns.models import Campaign
from donations import anomalies
from donations.models import AnomalyKind, ReconciliationRun
from tests.factories.giving import pending

ROLES = ("anonymous", "donor", "organizer", "treasurer", "auditor", "admin")

SKIPPED_ENDPOINTS = {
    "static", "main.healthz", "campaigns.cover", "treasury.evidence", "reports.evidence", "ledger.tile",
    "documents.signing_certificate",
}
MACHINE_SUFFIXES = (".json", ".csv", ".pdf", ".jsonl", ".atom", ".pem", ".tlog-proof", "/download")


def path_values(endpoint: str) -> list[dict]:
    """Real values for the endpoint's path variables: one object of each state that matters."""
    from accounts import services as account_services
    from accounts import verification
    from campaigns.models import Campaign
    from donations import dashboard
    from donations.models import Donation
    from ledger.models import LedgerEntry
    from maps.models import ServicePoint
    from organizations.models import Organization, OrganizationDocument
    from reports.models import ProgressReport
    from treasury.models import Disbursement

    s = db.session
    one_per_status = {}
    for campaign in s.scalars(sa.select(Campaign).order_by(Campaign.id)):
        one_per_status.setdefault(campaign.status, campaign)
    campaigns = [c.public_id for c in one_per_status.values()]
    organizations = [o.slug for o in s.scalars(sa.select(Organization).order_by(Organization.id))][:3]
    donations = {}
    for donation in s.scalars(sa.select(Donation).order_by(Donation.id)):
        donations.setdefault(donation.status, donation)
    kinds = {}
    for entry in s.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.seq)):
        kinds.setdefault(entry.kind, entry.seq)
    user = s.scalars(sa.select(User).order_by(User.id)).first()
    tokens = {
        "accounts.reset_password": [account_services.make_reset_token(user), "not-a-token"],
        "accounts.verify_email": [verification.make_token(user), "not-a-token"],
    }
    values = {
        "public_id": campaigns, "campaign_id": campaigns[:1], "slug": organizations,
        "donation_id": [d.id for d in donations.values()],
        "token": tokens.get(endpoint, [dashboard.guest_token(d) for d in donations.values()]),
        "checkout_id": [d.checkout_id for d in s.scalars(sa.select(Donation).where(
            Donation.status == "pending", Donation.checkout_id.is_not(None)).order_by(Donation.id))],
        "user_id": [u.id for u in s.scalars(sa.select(User).order_by(User.id))][:3],
        "seq": list(kinds.values()), "size": [max(kinds.values()) + 1],
    }
    pairs = {
        "reports.show": [{"public_id": s.get(Campaign, r.campaign_id).public_id, "number": r.number}
                         for r in s.scalars(sa.select(ProgressReport))],
        "treasury.reverse_disbursement": [{"public_id": s.get(Campaign, d.campaign_id).public_id,
                                           "disbursement_id": d.id}
                                          for d in s.scalars(sa.select(Disbursement)).all()[:1]],
        "maps.edit": [{"slug": s.get(Organization, p.organization_id).slug, "point_id": p.id}
                      for p in s.scalars(sa.select(ServicePoint)).all()[:1]],
        "organizations.document": [{"slug": s.get(Organization, d.organization_id).slug, "document_id": d.id}
                                   for d in s.scalars(sa.select(OrganizationDocument)).all()[:1]],
    }
    if endpoint in pairs:
        return pairs[endpoint]
    return [values]


def pages(app) -> list[tuple[str, str, bool]]:
    """(endpoint, URL, takes a POST) for every page people open, with real path variables."""
    pages = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if ("GET" not in rule.methods or rule.endpoint in SKIPPED_ENDPOINTS
                    or rule.rule.startswith("/api/") or rule.rule.endswith(MACHINE_SUFFIXES)):
                continue
            names = sorted(rule.arguments)
            urls = []
            for found in path_values(rule.endpoint):
                if set(names) <= {k for k, v in found.items() if not isinstance(v, list)}:
                    urls.append({name: found[name] for name in names})
                elif all(isinstance(found.get(name), list) for name in names):
                    urls.extend(dict(zip(names, combo, strict=True)) for combo in
                                itertools.islice(itertools.product(*(found[n] for n in names)), 6))
            pages.extend((rule.endpoint, url_for(rule.endpoint, **args), "POST" in rule.methods)
                         for args in urls)
    return pages


def demo_world(app) -> dict:
    """{"people": {role: user id or None}, "pages": pages(app)}, the demo data committed."""
    with app.app_context():
        run_loaders()
        # Donations waiting for their payment: the sandbox's checkout page, and the page that
        # shows a QRIS code itself.
        campaign = db.session.scalars(sa.select(Campaign).where(Campaign.status == "published")
                                      .order_by(Campaign.id)).first()
        for method in ("card", "qris"):
            pending(app, campaign, method=method)
        # What the reconciliation page lists: a run that left something unsettled, an anomaly,
        # each with its facts (shown in the reader's language), and one unsettled item recorded
        # before there were facts (its English reason is marked lang="en" on the page).
        db.session.add(ReconciliationRun(
            provider="sandbox", since=now_utc(), finished_at=now_utc(), checked=3,
            unsettled=[{"object": "cs_x", "reason": "the provider could not be asked: timed out",
                        "facts": {"code": "provider_unreachable", "detail": "timed out"}},
                       {"object": "cs_w", "reason": "the provider could not be asked"}]))
        anomalies.record(AnomalyKind.AMOUNT, provider="sandbox", provider_object="cs_y",
                         detail="paid 5000000, the donation is 4000000", amount=5_000_000,
                         currency="IDR", facts={"code": "paid_other_amount", "paid": 5_000_000,
                                                "asked": 4_000_000})
        db.session.commit()
        people = {"anonymous": None}
        for user in db.session.scalars(sa.select(User).order_by(User.id)):
            for role in [r.role for r in user.roles] or ["donor"]:
                people.setdefault(str(role), user.id)
        return {"people": people, "pages": pages(app)}
