"""`flask demo`: paid donations for the demo campaigns, made through the sandbox.

Every demo campaign gets its own gifts: how many, how large (now and then a group's collection),
from whom and with which message is drawn from a generator seeded with the campaign's title, so
totals differ from one campaign to the next, no two campaigns share a history, and a second run
draws exactly the same plan (and finds it done). The demo donor account gives to three campaigns,
signed in; one campaign refunds half of a gift; the campaign that closes at the end of the demo is
given its goal.

Idempotent: a campaign that already has donations is left alone.
"""
from __future__ import annotations

import dataclasses
import random

import sqlalchemy as sa
from flask import current_app, g

from accounts.models import User
from amanah.extensions import db
from campaigns.demo_data import CAMPAIGNS, FINAL_UPDATES
from campaigns.models import Campaign
from donations import giving
from donations.models import Donation
from donations.sandbox import SandboxGateway

DEMO_DONOR_EMAIL = "putri.handayani@amanah.test"
# (name, message); a name given twice is the same person giving again elsewhere.
DONORS = [("Siti Rahmawati", "Semoga lancar dan berkah."), ("Budi Hartono", None),
          ("Hamba Allah", "Untuk adik-adik."), ("Dewi Anggraini", "Sukses selalu!"),
          ("Yohanes Kambu", "Tuhan memberkati."), ("Made Suarjana", None),
          ("Nur Aisyah", "Semoga bermanfaat."), ("Andi Wijaya", None), ("Teuku Fadli", "Barakallah."),
          ("Ratna Sari", "Semangat, kakak-kakak relawan!"), ("Fransiska Lake", None),
          ("Ahmad Syafii", "Semoga jadi amal jariyah."), ("Lina Marlina", None), ("Gede Pradnyana", None)]
AMOUNTS_RP = [25_000, 50_000, 50_000, 75_000, 100_000, 100_000, 150_000, 200_000, 250_000, 300_000,
              500_000, 750_000, 1_000_000, 2_500_000]
# Groups that collect among their members and give once, larger (rupiah between the bounds).
GROUPS = ["Arisan Ibu-ibu RT 05", "Alumni SMA Negeri 3", "Komunitas Sepeda Santai", "Jamaah Masjid Al-Ikhlas",
          "Paguyuban Pedagang Pasar Baru", "Karyawan CV Maju Bersama"]
GROUP_GIFT_RP = (2_500_000, 12_500_000)
# The demo donor's own gifts, by campaign title: (rupiah, message).
DEMO_DONOR_GIFTS = {CAMPAIGNS[0][5]: (150_000, "Untuk anak-anak Krapyak."), CAMPAIGNS[1][5]: (100_000, None),
                    next(iter(FINAL_UPDATES)): (250_000, "Semoga cepat pulih.")}
REFUNDED_CAMPAIGN = CAMPAIGNS[2][5]  # its first gift is half refunded, as a donor asked


@dataclasses.dataclass(frozen=True)
class Gift:
    name: str
    amount_rp: int
    message: str | None
    anonymous: bool = False
    cover_fee: bool = False
    demo_donor: bool = False


def plan_for(title: str, goal_rp: int | None = None) -> list[Gift]:
    """The gifts of the demo campaign with this title (the same list on every run)."""
    rng = random.Random(f"amanah-demo:{title}")
    gifts = []
    for _ in range(rng.randint(1, 4)):
        name, message = rng.choice(DONORS)
        gifts.append(Gift(name, rng.choice(AMOUNTS_RP), message if rng.random() < 0.7 else None,
                          anonymous=name == "Hamba Allah" or rng.random() < 0.1,
                          cover_fee=rng.random() < 0.3))
    if rng.random() < 0.6:
        low, high = GROUP_GIFT_RP
        gift = Gift(rng.choice(GROUPS), rng.randrange(low, high + 1, 250_000),
                    rng.choice([None, "Dari kami semua."]))
        gifts.insert(rng.randrange(len(gifts) + 1), gift)
    if goal_rp is not None:  # a campaign that closes because it reached its goal
        while sum(g.amount_rp for g in gifts) < goal_rp:
            name, message = rng.choice(DONORS)
            gifts.append(Gift(name, rng.choice(AMOUNTS_RP[-4:]), message))
    return gifts


def _demo_campaigns() -> list[tuple[Campaign, list[Gift]]]:
    """(campaign, plan) of every published demo campaign."""
    by_title = {c.title: c for c in db.session.scalars(
        sa.select(Campaign).where(Campaign.title.in_([spec[5] for spec in CAMPAIGNS]),
                                  Campaign.status == "published"))}
    found = []
    for spec in CAMPAIGNS:
        campaign = by_title.get(spec[5])
        if campaign is None:
            continue
        plan = plan_for(spec[5], spec[6] if spec[5] in FINAL_UPDATES else None)
        if spec[5] in DEMO_DONOR_GIFTS:
            amount, message = DEMO_DONOR_GIFTS[spec[5]]
            plan.insert(len(plan) // 2, Gift("Putri Handayani", amount, message, demo_donor=True))
        found.append((campaign, plan))
    return found


def _give(gateway: SandboxGateway, campaign: Campaign, gift: Gift, donor: User | None) -> str:
    """One gift through the sandbox's checkout and webhook path; returns its payment intent."""
    amount = gift.amount_rp * 100 if campaign.currency == "IDR" else max(100, gift.amount_rp // 100)
    email = donor.email if gift.demo_donor and donor else f"{gift.name.split()[0].lower()}@example.org"
    donation = giving.start_donation(
        db.session.get(Campaign, campaign.id), amount=amount, donor_name=gift.name, donor_email=email,
        user=donor if gift.demo_donor else None, message=gift.message, anonymous=gift.anonymous,
        cover_fee=gift.cover_fee)
    db.session.commit()
    checkout = giving.begin_checkout(donation, "http://localhost/", "http://localhost/")
    event = gateway.pay(checkout.id)
    db.session.commit()
    gateway.take_events()
    giving.handle_event(event)
    return gateway.fetch_checkout(checkout.id)["payment_intent"]["id"]


def load_demo_donations() -> list[str]:
    """`flask demo`: each demo campaign's planned gifts, with their fees, and one partial refund."""
    donor = db.session.scalar(sa.select(User).where(User.email == DEMO_DONOR_EMAIL))
    made = 0
    for campaign, plan in _demo_campaigns():
        if db.session.execute(sa.select(Donation.id).where(Donation.campaign_id == campaign.id)).first():
            continue  # idempotent: this campaign already has its demo donations
        with current_app.test_request_context("/"):
            g._no_donation_mail = True
            # Demo money is sandbox money even where Stripe keys are set: the whole request uses it.
            gateway = g._payment_gateway = SandboxGateway()
            intents = []
            for gift in plan:
                if gift.demo_donor and donor is None:
                    continue  # the accounts loader has not run
                intents.append((_give(gateway, campaign, gift, donor), gift.amount_rp))
                made += 1
            if campaign.title == REFUNDED_CAMPAIGN and intents:
                intent, amount_rp = intents[0]
                amount = amount_rp * 100 if campaign.currency == "IDR" else max(100, amount_rp // 100)
                gateway.create_refund(intent, amount // 2, f"demo-refund-{campaign.public_id}", {})
                db.session.commit()
                for event in gateway.take_events():
                    giving.handle_event(event)
    return [f"{made} sandbox donations added (with fees and a partial refund)."] if made else []
