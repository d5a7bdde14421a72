"""Reconciliation's unsettled reasons and anomalies are stored as facts and read in the reader's
language (donations.diagnostics); what was stored before, as English only, stays readable."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from amanah.extensions import db
from donations import diagnostics
from donations.dashboard import diagnosis
from donations.models import PaymentAnomaly

SAMPLE = {"detail": "timed out", "event": "evt_1", "donation": 12, "status": "flagged",
          "provider_status": "failed", "result": "unchanged", "paid": 5_000_000, "asked": 4_000_000,
          "amount": 9_000_000, "received": 5_000_000, "taken": 1_000_000, "payment": "pi_1",
          "expected": "pi_2", "currency": "USD"}


@pytest.mark.parametrize("code", sorted(diagnostics.SENTENCES))
def test_every_reason_reads_in_both_languages(app, code):
    names = set(re.findall(r"%\((\w+)\)s", str(diagnostics.SENTENCES[code]._args[0])))
    facts = {"code": code, **{name: SAMPLE[name] for name in names}}
    with app.test_request_context():
        with force_locale("en"):
            english = str(diagnosis(facts, "fallback", "IDR"))
        with force_locale("id"):
            indonesian = str(diagnosis(facts, "fallback", "IDR"))
    for text in (english, indonesian):
        assert "fallback" not in text and "%(" not in text
    assert english != indonesian
    if "paid" in names:
        assert "Rp 50.000" in indonesian and "IDR 50,000" in english
    if "status" in names:  # a donation's status by its label, not its code
        assert "held for a treasurer" in english and "flagged" not in english
    if "payment" in names:  # the provider's ids as they came, as code
        assert "<code>pi_1</code>" in indonesian


def test_the_providers_words_are_escaped(app):
    with app.test_request_context(), force_locale("en"):
        text = str(diagnosis({"code": "provider_unreachable", "detail": "<script>x</script>"}, "fallback"))
    assert text == "The provider could not be asked: <code>&lt;script&gt;x&lt;/script&gt;</code>"


@pytest.mark.parametrize("facts", [None, {}, {"code": "from_a_later_version"}, {"code": "paid_not_booked"},
                                   {"code": "paid_not_booked", "donation": 3}, ["paid_not_booked"],
                                   {"code": ["paid_not_booked"]},
                                   {"code": "paid_other_amount", "paid": 10**40, "asked": 1}])
def test_without_facts_it_knows_the_english_reason_is_shown_marked_as_english(app, facts):
    with app.test_request_context(), force_locale("id"):
        text = str(diagnosis(facts, "paid at the provider, donation 3 is <b>x</b> here", "IDR"))
    assert text == '<span lang="en">paid at the provider, donation 3 is &lt;b&gt;x&lt;/b&gt; here</span>'


def test_anomalies_are_recorded_with_their_facts(app):
    from donations import anomalies
    from donations.models import AnomalyKind
    with app.app_context():
        anomalies.record(AnomalyKind.CURRENCY, provider="sandbox", provider_object="re_1", detail="in usd",
                         facts={"code": "other_currency", "currency": "USD", "expected": "IDR"})
        db.session.commit()
        anomaly = db.session.scalars(sa.select(PaymentAnomaly)).one()
        assert anomaly.facts == {"code": "other_currency", "currency": "USD", "expected": "IDR"}
    with app.test_request_context(), force_locale("id"):
        assert str(diagnosis(anomaly.facts, anomaly.detail)) == ("Dalam <code>USD</code>; donasinya dalam "
                                                                 "<code>IDR</code>.")


def test_an_anomaly_in_a_currency_this_app_does_not_know_is_listed(app, client):
    from accounts.models import Role
    from donations import anomalies
    from donations.models import AnomalyKind
    from tests.factories import login, make_user
    with app.app_context():
        anomalies.record(AnomalyKind.CURRENCY, provider="sandbox", provider_object="re_kwd", detail="in kwd",
                         amount=1234, currency="KWD", facts={"code": "other_currency", "currency": "KWD",
                                                             "expected": "IDR"})
        db.session.commit()
        login(client, make_user(None, Role.ADMIN))
    page = client.get("/payments/reconciliation", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "1234 KWD" in page.get_data(as_text=True)
