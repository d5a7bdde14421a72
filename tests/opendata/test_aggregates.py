"""The aggregates against sums over the ledger's export, for random histories.

Each history appends donations, refunds and their reversals, chargebacks and theirs, fees and fee
reversals, disbursements and their reversals and reports, through the ledger's own Appender (one
to several entries per transaction), to campaigns in random categories, provinces and currencies,
plus a campaign the campaigns table does not know, at random times over several months with some
on the WIB month boundary. The expected figures are summed here, independently of
opendata.aggregates, from /ledger/export.jsonl (the signed leaves) and from who gave each gift.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import defaultdict

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns import categories, regions
from campaigns.models import Campaign
from donations.models import Donation
from ledger import storage
from opendata import aggregates
from opendata.models import Aggregate
from tests.factories import make_user
from tests.factories.documents import make_campaign

WIB = dt.timezone(dt.timedelta(hours=7))
SIGNS = {"donation": ("raised", 1), "refund": ("refunded", -1), "refund_reversal": ("refunded", -1),
         "chargeback": ("chargebacks", -1), "chargeback_reversal": ("chargebacks", -1),
         "fee": ("fees", -1), "fee_reversal": ("fees", -1),
         "disbursement": ("disbursed", -1), "disbursement_reversal": ("disbursed", -1)}
FIELDS = ("raised", "refunded", "chargebacks", "fees", "disbursed", "gifts", "donors", "campaigns", "entries",
          "first_seq", "last_seq")
UNLISTED = "unlisted0001"


def _campaigns(rng: random.Random) -> dict[str, tuple[str, str, str]]:
    """A handful of real campaigns: public id -> (category, province, currency)."""
    found = {}
    for _ in range(5):
        currency = rng.choice(["IDR", "IDR", "USD"])
        campaign = make_campaign(currency=currency)
        campaign.category = rng.choice(categories.CODES)
        campaign.region = rng.choice(regions.CODES[:4])  # few provinces, so buckets are shared
        db.session.commit()
        found[campaign.public_id] = (campaign.category, campaign.region, currency)
    found[UNLISTED] = ("", "", "IDR")
    return found


def _when(rng: random.Random) -> dt.datetime:
    if rng.random() < 0.2:  # 00:00 WIB on the first of a month, or the second before it
        month = rng.choice([(2025, 12), (2026, 1), (2026, 2), (2026, 3)])
        first = dt.datetime(*month, 1, tzinfo=WIB).astimezone(dt.UTC)
        return first - dt.timedelta(seconds=rng.choice([0, 1]))
    return dt.datetime(2025, 11, 20, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(150 * 24 * 60))


def _history(rng: random.Random, places: dict, donors: list) -> dict[int, str]:
    """Append a random history; returns each donation's donor identity, by seq."""
    given: dict[int, tuple[str, int, str]] = {}  # donation seq -> (campaign, amount, currency)
    who: dict[int, str] = {}
    ids = list(places)
    for _ in range(rng.randint(12, 25)):
        appender = storage.Appender(db.session)
        for _ in range(rng.randint(1, 4)):
            campaign = rng.choice(ids)
            currency = places[campaign][2]
            at = _when(rng)
            kind = rng.choice(["donation"] * 4 + list(SIGNS)[1:] + ["report"])
            fields = {"campaign": campaign, "currency": currency, "at": at}
            mine = [s for s, (c, _a, _cur) in given.items() if c == campaign]
            if kind == "donation" or (kind in ("refund", "chargeback", "fee") and not mine):
                user, email = rng.choice(donors)
                donation = Donation(campaign_id=None, user_id=user, donor_name="Donatur", donor_email=email,
                                    amount=rng.randrange(1, 10**8), fee_covered=0, currency=currency,
                                    provider="sandbox", donor_secret="00" * 32)
                donation.total = donation.amount
                key = donation.donor_identity if campaign != UNLISTED else None
                entry = appender.append(kind="donation", amount=donation.amount, donor_key=key, **fields)
                given[entry.seq] = (campaign, donation.amount, currency)
                if key is not None:
                    who[entry.seq] = key
                    _keep(donation, campaign, entry.seq)
                continue
            if kind == "report":
                appender.append(kind="report", amount=0, **fields)
                continue
            sign = 1 if kind.endswith("_reversal") else -1
            ref = rng.choice(mine) if mine else None
            appender.append(kind=kind, amount=sign * rng.randrange(1, 10**7), ref=ref, **fields)
        appender.flush()
        db.session.commit()
    return who


def _keep(donation: Donation, public_id: str, seq: int) -> None:
    """The donation row behind a gift, so that the rebuild finds its donor as the append did."""
    donation.campaign_id = db.session.execute(
        sa.select(Campaign.id).where(Campaign.public_id == public_id)).scalar_one()
    donation.status, donation.ledger_seq = "paid", seq
    donation.paid_at = dt.datetime.now(dt.UTC)
    db.session.add(donation)


def _expected(client, places: dict, who: dict[int, str]) -> dict[tuple, dict]:
    """Every bucket, summed from the exported leaves."""
    rows: dict[tuple, dict] = {}
    donors, campaigns = defaultdict(set), defaultdict(set)
    for line in client.get("/ledger/export.jsonl").get_data().splitlines():
        entry = json.loads(line)
        if entry["kind"] == "report":
            continue
        at = dt.datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
        month = at.astimezone(WIB).strftime("%Y-%m")
        category, province, _currency = places[entry["campaign"]]
        for key in [(m, c, p, entry["currency"]) for m in (month, "*") for c in (category, "*")
                    for p in (province, "*")]:
            row = rows.setdefault(key, dict.fromkeys(FIELDS, 0) | {"first_seq": entry["seq"]})
            column, sign = SIGNS[entry["kind"]]
            row[column] += sign * entry["amount"]
            row["entries"] += 1
            row["last_seq"] = entry["seq"]
            campaigns[key].add(entry["campaign"])
            if entry["kind"] == "donation":
                row["gifts"] += 1
                donors[key].add(who.get(entry["seq"], f"gift {entry['seq']}"))
    for key, row in rows.items():
        row["donors"], row["campaigns"] = len(donors[key]), len(campaigns[key])
    return rows


def _stored() -> dict[tuple, dict]:
    return {(r.month, r.category, r.province, r.currency): {f: getattr(r, f) for f in FIELDS}
            for r in db.session.scalars(sa.select(Aggregate))}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_aggregates_equal_sums_over_the_export_for_random_histories(app, client, runner, seed):
    rng = random.Random(seed)
    with app.app_context():
        users = [make_user().id for _ in range(2)]
        # Two accounts, and guests whose addresses differ only in case and spaces (one donor).
        donors = [(users[0], "a@example.test"), (users[1], "a@example.test"), (None, "Tamu@Example.test"),
                  (None, " tamu@example.test "), (None, "lain@example.test")]
        places = _campaigns(rng)
        who = _history(rng, places, donors)
        expected = _expected(client, places, who)
        assert _stored() == expected
        # Some bucket has fewer donors than gifts, and an all-time total exists in each currency.
        assert any(r["donors"] < r["gifts"] for r in expected.values())
        assert {k[3] for k in expected if k[:3] == ("*", "*", "*")} == {p[2] for p in places.values()
                                                                        if p[2] in {k[3] for k in expected}}
        db.session.commit()
    result = runner.invoke(args=["opendata", "rebuild-aggregates"])
    assert result.exit_code == 0, result.output
    assert "agree" in result.output


def test_a_month_is_counted_in_wib(app):
    with app.app_context():
        campaign = make_campaign()
        appender = storage.Appender(db.session)
        for at in ("2026-01-31T16:59:59Z", "2026-01-31T17:00:00Z"):
            appender.append(kind="donation", campaign=campaign.public_id, amount=100, currency="IDR",
                            at=dt.datetime.fromisoformat(at.replace("Z", "+00:00")))
        appender.flush()
        db.session.commit()
        rows = _stored()
        assert rows[("2026-01", "*", "*", "IDR")]["raised"] == 100
        assert rows[("2026-02", "*", "*", "IDR")]["raised"] == 100
        assert rows[("*", "*", "*", "IDR")]["gifts"] == 2 and rows[("*", "*", "*", "IDR")]["donors"] == 2


def test_the_rebuild_finds_a_changed_row_and_rewrites_it(app, runner):
    with app.app_context():
        campaign = make_campaign()
        storage.append(db.session, kind="donation", campaign=campaign.public_id, amount=500, currency="IDR",
                       donor_key="user:1")
        db.session.commit()
        db.session.execute(sa.update(Aggregate).where(Aggregate.month == "*", Aggregate.category == "*",
                                                      Aggregate.province == "*").values(raised=1))
        db.session.commit()
    result = runner.invoke(args=["opendata", "rebuild-aggregates"])
    assert result.exit_code == 1
    assert "*/*/*/IDR: raised is 1 but the entries give 500" in result.output
    result = runner.invoke(args=["opendata", "rebuild-aggregates", "--write"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["opendata", "rebuild-aggregates"]).exit_code == 0
    with app.app_context():
        assert _stored()[("*", "*", "*", "IDR")]["raised"] == 500


def test_marks_keep_no_identity_in_clear(app):
    with app.app_context():
        campaign = make_campaign()
        storage.append(db.session, kind="donation", campaign=campaign.public_id, amount=500, currency="IDR",
                       donor_key="email:siti@example.test")
        db.session.commit()
        who = set(db.session.execute(sa.text("SELECT who FROM opendata_marks WHERE what = 'd'")).scalars())
        assert who == {aggregates.donor_hash("email:siti@example.test")}
        assert who == {hashlib.sha256(b"amanah-opendata-donor-v1\x00email:siti@example.test").hexdigest()}


def test_a_gift_and_its_fee_cost_the_append_three_statements_or_two(app):
    """The campaigns' places, the marks and the buckets; on PostgreSQL the last two are one."""
    statements = []
    with app.app_context():
        public_id = make_campaign().public_id
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            appender = storage.Appender(db.session)
            gift = appender.append(kind="donation", campaign=public_id, amount=900, currency="IDR",
                                   donor_key="user:7")
            appender.append(kind="fee", campaign=public_id, amount=-30, currency="IDR", ref=gift.seq)
            appender.flush()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        db.session.commit()
        ours = [s for s in statements if "opendata_" in s or "FROM campaigns" in s]
        assert len(ours) == (2 if db.engine.dialect.name == "postgresql" else 3), ours
        row = _stored()[("*", "*", "*", "IDR")]
        assert (row["raised"], row["fees"], row["gifts"], row["donors"], row["campaigns"]) == (
            900, 30, 1, 1, 1)
