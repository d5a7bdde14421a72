"""Donor-facing times: WIB, one format per language, rendered by the server (amanah.i18n)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_babel import force_locale

from amanah.extensions import db
from amanah.i18n import format_wib, format_wib_date, wib_date
from donations.models import Donation
from tests.factories.giving import make_campaign, pending

# 20:30 UTC on 3 December is already 4 December, 03:30 in Jakarta: the "today in UTC" trap.
EVENING_UTC = dt.datetime(2026, 12, 3, 20, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("locale", "expected"), [
    ("id", "4 Desember 2026, 03.30 WIB"),
    ("en", "4 December 2026, 03:30 WIB"),
])
def test_one_format_per_language(app, locale, expected):
    with app.test_request_context():
        assert format_wib(EVENING_UTC, locale) == expected
        with force_locale(locale):
            assert format_wib(EVENING_UTC) == expected  # the request's language by default


@pytest.mark.parametrize(("locale", "expected"), [("id", "4 Desember 2026"), ("en", "4 December 2026")])
def test_dates_are_the_wib_day(app, locale, expected):
    with app.test_request_context():
        assert format_wib_date(EVENING_UTC, locale) == expected
        assert format_wib_date(dt.date(2026, 12, 4), locale) == expected  # a calendar date stays as it is
    assert wib_date(EVENING_UTC) == dt.date(2026, 12, 4)
    assert wib_date(dt.datetime(2026, 12, 3, 16, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 3)


def test_naive_times_are_read_as_utc_and_none_is_empty(app):
    with app.test_request_context():
        assert format_wib(EVENING_UTC.replace(tzinfo=None), "en") == "4 December 2026, 03:30 WIB"
        assert format_wib(None) == format_wib_date(None) == ""


def test_the_thank_you_page_and_my_donations_show_wib(app, client):
    from donations.dashboard import guest_token
    with app.app_context():
        donation_id, _ = pending(app, make_campaign())
        db.session.get(Donation, donation_id).created_at = EVENING_UTC
        db.session.commit()
        with app.test_request_context():
            token = guest_token(donation_id)
    for lang, expected in (("id", "4 Desember 2026, 03.30 WIB"), ("en", "4 December 2026, 03:30 WIB")):
        page = client.get(f"/donations/view/{token}", headers={"Accept-Language": lang})
        page = page.get_data(as_text=True)
        assert expected in page
        assert "UTC" not in page and not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page)


def test_receipt_times_use_the_same_helper(app):
    from documents import receipts
    with app.app_context():
        assert receipts._when(EVENING_UTC.isoformat(), "id") == "4 Desember 2026, 03.30 WIB"
        assert receipts._when(EVENING_UTC.isoformat(), "en") == "4 December 2026, 03:30 WIB"


def test_no_template_formats_a_time_on_its_own():
    """Every donor-facing time goes through the wib filters; the ledger's own pages use ledger_time
    (UTC, and they say so). strftime and Flask-Babel's datetimeformat (UTC, a format per call) are gone."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.html")
                 if re.search(r"strftime|\|\s*(datetimeformat|dateformat|timeformat)\b", path.read_text())]
    assert offenders == []
