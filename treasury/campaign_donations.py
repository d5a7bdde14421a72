"""A campaign's donations as its treasurer works with them: who gave what, when and how, what was
refunded, and the donations held for a check (the provider reported another amount or currency
than the donation's: they are not in the ledger). From here a treasurer opens a donation's refund.

Only donations that reached the provider's books are listed (paid, held for a check): pending,
failed and expired ones moved no money. Anonymous donors are named here: anonymity hides the
name on public pages, not from the treasurer who must refund or answer them.
"""
from __future__ import annotations

import dataclasses
import math

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from amanah.errors import UserError
from amanah.extensions import db
from campaigns.models import Campaign
from donations.models import AnomalyKind, Donation, DonationStatus, PaymentAnomaly, RefundStatus

PAGE_SIZE = 50
SHOWN = {"": (DonationStatus.PAID, DonationStatus.FLAGGED), "paid": (DonationStatus.PAID,),
         "flagged": (DonationStatus.FLAGGED,)}
MAX_QUERY = 200


@dataclasses.dataclass
class Row:
    donation: Donation
    refunded: int  # booked refunds
    set_aside: int  # refunds requested, awaiting the provider
    # For a donation held for a check: what the provider reported was paid, when it was the
    # donation's currency (the anomaly kept for it), else None.
    reported_paid: int | None = None

    @property
    def refundable(self) -> bool:
        return (self.donation.status == DonationStatus.PAID
                and self.refunded + self.set_aside < self.donation.total)


@dataclasses.dataclass
class Page:
    rows: list[Row]
    total: int  # donations matching, on every page
    number: int
    pages: int
    flagged: int  # donations of the campaign held for a check, whatever the filter


def held_counts(campaign_ids: list[int]) -> dict[int, int]:
    """How many donations of each campaign are held for a check (campaigns with none are left out)."""
    if not campaign_ids:
        return {}
    return dict(db.session.execute(
        sa.select(Donation.campaign_id, sa.func.count()).where(
            Donation.campaign_id.in_(campaign_ids), Donation.status == DonationStatus.FLAGGED.value)
        .group_by(Donation.campaign_id)).all())


def parse_filters(status: str | None, query: str | None, page: str | None) -> tuple[str, str, int]:
    """(status, query, page) from the address, or UserError naming the parameter."""
    status = status or ""
    if status not in SHOWN:
        raise UserError(_l("Use paid or flagged."), field="status")
    query = (query or "").strip()
    if len(query) > MAX_QUERY:
        raise UserError(_l("Search for at most %(count)d characters.", count=MAX_QUERY), field="q")
    if page in (None, ""):
        return status, query, 1
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 10**6:
        raise UserError(_l("The page is a number from 1."), field="page")
    return status, query, int(page)


def _matching(query: str):
    """Donations whose donor's name or address holds `query`, or whose number it is (#12 or 12)."""
    needle = query.lower()
    found = sa.or_(sa.func.lower(Donation.donor_name).contains(needle, autoescape=True),
                   sa.func.lower(Donation.donor_email).contains(needle, autoescape=True))
    number = query.removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) < 10:
        found = sa.or_(found, Donation.id == int(number))
    return found


def donations_of(campaign: Campaign, status: str = "", query: str = "", page: int = 1) -> Page:
    where = [Donation.campaign_id == campaign.id, Donation.status.in_([s.value for s in SHOWN[status]])]
    if query:
        where.append(_matching(query))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Donation).where(*where)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    donations = db.session.scalars(
        sa.select(Donation).where(*where).options(selectinload(Donation.refunds))
        # Held ones first (they wait for the treasurer), then the newest.
        .order_by((Donation.status == DonationStatus.FLAGGED.value).desc(),
                  sa.func.coalesce(Donation.paid_at, Donation.created_at).desc(), Donation.id.desc())
        .limit(PAGE_SIZE).offset((min(page, pages) - 1) * PAGE_SIZE)).all()
    flagged_ids = [d.id for d in donations if d.status == DonationStatus.FLAGGED]
    reported = dict(db.session.execute(
        sa.select(PaymentAnomaly.donation_id, PaymentAnomaly.amount).where(
            PaymentAnomaly.kind == AnomalyKind.AMOUNT.value, PaymentAnomaly.donation_id.in_(flagged_ids)))
        .all()) if flagged_ids else {}
    rows = []
    for donation in donations:
        refunded = sum(r.amount for r in donation.refunds if r.status == RefundStatus.SUCCEEDED)
        set_aside = sum(r.amount for r in donation.refunds if r.status == RefundStatus.REQUESTED)
        rows.append(Row(donation, refunded, set_aside, reported.get(donation.id)))
    flagged = db.session.scalar(sa.select(sa.func.count()).select_from(Donation).where(
        Donation.campaign_id == campaign.id, Donation.status == DonationStatus.FLAGGED.value)) or 0
    return Page(rows, total, min(page, pages), pages, flagged)
