"""Every total shown anywhere equals the sum over the ledger's entries.

Seeded random histories (several campaigns and currencies, every kind, refunds and chargebacks
pointing at real donations, many transactions) are appended through ledger.storage; then each
CampaignTotal, each figure of campaign_finances, of the JSON API, of the HTML page, the chart's last
point and the CSV are compared with sums computed directly over LedgerEntry.
"""
import csv
import io
import random
import re
from collections import defaultdict

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from amanah.money import format_money
from ledger import caches, queries, storage
from ledger.models import CampaignTotal, LedgerEntry

CAMPAIGNS = {"idr-a": "IDR", "idr-b": "IDR", "usd-c": "USD", "jpy-d": "JPY"}


def random_history(rng: random.Random, transactions: int) -> None:
    """Append a random but coherent history: money out never refers to money that is not there."""
    donations = defaultdict(list)      # campaign -> [(seq, amount)] still refundable
    chargebacks = defaultdict(list)    # campaign -> [(seq, amount)] still reversible
    refunds = defaultdict(list)        # campaign -> [(seq, amount)] that may still fail
    disbursed = defaultdict(list)      # campaign -> [(seq, amount)] not yet reversed
    payment = 0
    for _ in range(transactions):
        appender = storage.Appender(db.session)
        for _ in range(rng.randint(1, 25)):
            campaign = rng.choice(sorted(CAMPAIGNS))
            currency = CAMPAIGNS[campaign]
            roll = rng.random()
            payment += 1
            fields = dict(campaign=campaign, currency=currency, payment=f"p{payment}")
            if roll < 0.45 or not donations[campaign]:
                amount = rng.randint(1, 10**9)
                appended = appender.append(kind="donation", amount=amount, **fields)
                donations[campaign].append((appended.seq, amount))
            elif roll < 0.65:
                ref, amount = rng.choice(donations[campaign])
                fee = max(1, amount * rng.randint(1, 150) // 1000)
                appender.append(kind="fee", amount=-fee, ref=ref, **fields)
            elif roll < 0.75:
                ref, amount = donations[campaign].pop(rng.randrange(len(donations[campaign])))
                appended = appender.append(kind="refund", amount=-amount, ref=ref, **fields)
                refunds[campaign].append((appended.seq, amount))
            elif roll < 0.82:
                ref, amount = donations[campaign].pop(rng.randrange(len(donations[campaign])))
                appended = appender.append(kind="chargeback", amount=-amount, ref=ref, **fields)
                chargebacks[campaign].append((appended.seq, amount))
            elif roll < 0.86 and chargebacks[campaign]:
                ref, amount = chargebacks[campaign].pop()
                appender.append(kind="chargeback_reversal", amount=amount, ref=ref, **fields)
            elif roll < 0.88 and refunds[campaign]:
                ref, amount = refunds[campaign].pop()
                appender.append(kind="refund_reversal", amount=amount, ref=ref, **fields)
            elif roll < 0.90 and disbursed[campaign]:
                ref, amount = disbursed[campaign].pop(rng.randrange(len(disbursed[campaign])))
                appender.append(kind="disbursement_reversal", amount=amount, ref=ref,
                                memo="Dicatat dua kali", **fields)
            else:
                amount = rng.randint(1, 10**8)
                appended = appender.append(kind="disbursement", amount=-amount, memo="Penyaluran", **fields)
                disbursed[campaign].append((appended.seq, amount))
            if rng.random() < 0.1:  # several flushes inside one transaction, too
                appender.flush()
        appender.flush()
        db.session.commit()


def sums_by_kind() -> dict[str, dict[str, int]]:
    out = defaultdict(lambda: defaultdict(int))
    entries = LedgerEntry
    query = sa.select(entries.campaign, entries.kind, sa.func.sum(entries.amount), sa.func.count())
    rows = db.session.execute(query.group_by(LedgerEntry.campaign, LedgerEntry.kind))
    for campaign, kind, total, count in rows:
        out[campaign][kind] = int(total)
        out[campaign]["count:" + kind] = count
    return out


def expected_figures(s: dict[str, int]) -> dict[str, int]:
    """The page's figures as sums of entry amounts (positive magnitudes)."""
    return {
        "raised": s["donation"],
        "refunded": -(s["refund"] + s["refund_reversal"]),
        "chargebacks": -(s["chargeback"] + s["chargeback_reversal"]),
        "fees": -s["fee"],
        "disbursed": -(s["disbursement"] + s["disbursement_reversal"]),
        "balance": sum(v for k, v in s.items() if not k.startswith("count:")),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_total_equals_the_sum_over_the_entries(app, client, seed):
    with app.app_context():
        random_history(random.Random(seed), transactions=12)
        sums = sums_by_kind()
        assert set(sums) == set(CAMPAIGNS)
        for campaign, s in sums.items():
            want = expected_figures(s)
            totals = db.session.get(CampaignTotal, campaign)
            assert {k: getattr(totals, k) for k in want} == want
            assert totals.donation_count == s["count:donation"]
            assert totals.entry_count == sum(v for k, v in s.items() if k.startswith("count:"))
            last = db.session.scalar(sa.select(sa.func.max(LedgerEntry.seq))
                                     .where(LedgerEntry.campaign == campaign))
            assert totals.last_seq == last

            with app.test_request_context("/"):
                finances = queries.campaign_finances(campaign)
                assert {k: getattr(finances, k) for k in want} == want
                assert finances.net_raised == want["raised"] - want["refunded"] - want["chargebacks"]
                points = caches.chart_series(finances)
                assert points[-1].money_in == want["raised"]
                assert points[-1].money_in - points[-1].money_out == want["balance"]
                assert len(points) <= caches.CHART_POINTS + 2

    for campaign, s in sums.items():
        want = expected_figures(s)
        currency = CAMPAIGNS[campaign]
        body = client.get(f"/api/v1/ledger/campaigns/{campaign}").get_json()
        assert {k: body[k] for k in want} == want
        for lang in ("id", "en"):
            page = client.get(f"/ledger/campaigns/{campaign}", headers={"Accept-Language": lang})
            shown = dict(re.findall(r'data-figure="(\w+)">([^<]+)<', page.get_data(as_text=True)))
            assert shown == {k: format_money(v, currency, lang) for k, v in want.items()}
        rows = list(csv.DictReader(io.StringIO(
            client.get(f"/ledger/export.csv?campaign={campaign}").get_data(as_text=True).removeprefix("\ufeff"))))
        assert sum(int(r["amount_minor"]) for r in rows) == want["balance"]
        assert len(rows) == body["entry_count"]


def test_totals_move_with_the_append_transaction(app):
    """An append that is rolled back leaves no entry and no change in the totals."""
    with app.app_context():
        storage.append(db.session, kind="donation", campaign="idr-a", amount=500, currency="IDR")
        db.session.commit()
        storage.append(db.session, kind="donation", campaign="idr-a", amount=700, currency="IDR")
        storage.append(db.session, kind="donation", campaign="new-one", amount=700, currency="IDR")
        db.session.rollback()
        assert db.session.get(CampaignTotal, "idr-a").raised == 500
        assert db.session.get(CampaignTotal, "new-one") is None
        assert storage.size(db.session) == 1
