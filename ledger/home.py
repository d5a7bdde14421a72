"""The platform's totals on the home page, summed from the ledger's running totals.

One aggregate over `ledger_campaign_totals` (a row per campaign, kept with each append), never
over the entries: money raised (net of refunds and chargebacks) and disbursed per currency, the
number of donations and of campaigns that have received one.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from amanah.extensions import db
from amanah.home import register_home_section
from ledger.models import CampaignTotal


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    raised: int     # net: donations less refunds and chargebacks, in minor units
    disbursed: int  # paid out to beneficiaries, reversals taken back


@dataclass(frozen=True)
class PlatformTotals:
    money: list[CurrencyTotals]  # largest amount raised first
    donations: int
    campaigns: int  # campaigns that have received at least one donation


def platform_totals() -> PlatformTotals:
    t = CampaignTotal
    rows = db.session.execute(
        sa.select(t.currency, sa.func.sum(t.raised - t.refunded - t.chargebacks), sa.func.sum(t.disbursed),
                  sa.func.sum(t.donation_count), sa.func.count().filter(t.donation_count > 0))
        .group_by(t.currency)).all()
    money = sorted((CurrencyTotals(currency, int(raised or 0), int(disbursed or 0))
                    for currency, raised, disbursed, _count, _campaigns in rows),
                   key=lambda m: (-m.raised, m.currency))
    return PlatformTotals(money=money, donations=sum(int(r[3] or 0) for r in rows),
                          campaigns=sum(int(r[4] or 0) for r in rows))


def totals_context() -> dict | None:
    totals = platform_totals()
    return {"totals": totals} if totals.donations else None


def register(app) -> None:
    register_home_section(app, "ledger.totals", "ledger/_home_totals.html", context=totals_context, order=10)
