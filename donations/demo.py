"""`flask demo`: paid donations for the first published campaigns, made through the sandbox."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g

from amanah.extensions import db
from campaigns.models import Campaign
from donations import giving
from donations.models import Donation
from donations.sandbox import SandboxGateway

DEMO_DONORS = [("Siti Rahmawati", 10_000_000, "Semoga lancar dan berkah.", False),
               ("Budi Santoso", 25_000_000, None, False),
               ("Hamba Allah", 5_000_000, "Untuk adik-adik.", True),
               ("Dewi Lestari", 50_000_000, "Sukses selalu!", False)]


def load_demo_donations() -> list[str]:
    """`flask demo`: paid donations, a fee per payment and one partial refund, through the sandbox."""
    campaigns = db.session.execute(sa.select(Campaign).where(Campaign.status == "published")
                                   .order_by(Campaign.id).limit(3)).scalars().all()
    made = 0
    for campaign in campaigns:
        if db.session.execute(sa.select(Donation.id).where(Donation.campaign_id == campaign.id)).first():
            continue  # idempotent: this campaign already has its demo donations
        with current_app.test_request_context("/"):
            g._no_donation_mail = True
            # Demo money is sandbox money even where Stripe keys are set: the whole request uses it.
            gateway = g._payment_gateway = SandboxGateway()
            intents = []
            for name, idr, message, anonymous in DEMO_DONORS:
                amount = idr if campaign.currency == "IDR" else max(100, idr // 10_000)
                donation = giving.start_donation(
                    db.session.get(Campaign, campaign.id), amount=amount, donor_name=name,
                    donor_email=f"{name.split()[0].lower()}@example.org", message=message,
                    anonymous=anonymous, cover_fee=name.startswith("Budi"))
                db.session.commit()
                checkout = giving.begin_checkout(donation, "http://localhost/", "http://localhost/")
                event = gateway.pay(checkout.id)
                db.session.commit()
                gateway.take_events()
                giving.handle_event(event)
                intents.append((gateway.fetch_checkout(checkout.id)["payment_intent"]["id"], amount))
                made += 1
            intent, amount = intents[0]
            gateway.create_refund(intent, amount // 2, f"demo-refund-{campaign.public_id}", {})
            db.session.commit()
            for event in gateway.take_events():
                giving.handle_event(event)
    return [f"{made} sandbox donations added (with fees and a partial refund)."] if made else []
