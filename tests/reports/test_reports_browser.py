"""In a real browser on a 390 px phone: the campaign's treasurer posts a progress report with a
photo, and a visitor reads it on the campaign page and on its own page, nothing wider than the
screen."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from accounts.passwords import hash_password
from amanah.extensions import db
from campaigns.models import CampaignIndicator
from reports.models import ProgressReport
from tests.factories.browser import chromium_page, horizontal_overflow
from tests.factories.treasury import RP, fund, make_campaign, picture
from treasury import disbursements

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}
PASSWORD = "laporan-bendahara-2026"


def fits(page) -> bool:
    # Measured after the load event: a click's new page can be in the DOM before its stylesheets
    # apply, and an unstyled page is wider than a phone (a CI run under load saw this one fail).
    return horizontal_overflow(page) == 0


@pytest.mark.files
def test_a_treasurer_posts_a_report_from_a_phone_and_a_visitor_reads_it(live_server, tmp_path):
    app, base = live_server.app, live_server.url
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP)
        treasurer = campaign.treasurer
        treasurer.password_hash = hash_password(PASSWORD)
        db.session.add(CampaignIndicator(
            campaign_id=campaign.id, name="Sumur bor dibangun", unit="sumur", kind="count",
            direction="increase", baseline=0, target=400, due=disbursements.now_utc().date(),
            created_by_id=campaign.organizer_id))
        db.session.commit()
        public_id, email = campaign.public_id, treasurer.email
    photo = tmp_path / "sumur.png"
    photo.write_bytes(picture(5))

    with chromium_page("id-ID") as page:
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/account/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main button[type=submit]").click()
        page.wait_for_selector(".account-menu summary")
        page.goto(f"{base}/campaigns/{public_id}")
        page.get_by_role("link", name="Kirim laporan perkembangan").click()
        page.wait_for_selector("#narrative")
        assert fits(page)
        page.fill("#title", "Sumur pertama mengalir")
        page.fill("#narrative", "Sumur di RT 03 sudah mengalir sejak Senin.")
        page.get_by_label("Sumur bor dibangun (sumur)").fill("1")
        page.set_input_files("#evidence_0", str(photo))
        page.fill("#evidence_title_0", "Foto sumur RT 03")
        page.get_by_role("button", name="Kirim laporan").click()
        page.wait_for_selector("h1:has-text('Sumur pertama mengalir')")
        assert fits(page)

    with chromium_page("id-ID") as page:  # a visitor, signed in as nobody
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/campaigns/{public_id}")
        timeline = page.locator(".reports-timeline")
        timeline.wait_for()
        text = timeline.inner_text()
        assert "Sumur pertama mengalir" in text and "Foto sumur RT 03" in text
        assert "1 sumur" in page.locator(".outcome").inner_text()
        assert fits(page)
        timeline.get_by_role("link", name="#1 Sumur pertama mengalir").click()
        page.wait_for_selector("h1:has-text('Sumur pertama mengalir')")
        assert "Sumur di RT 03 sudah mengalir" in page.locator("main").inner_text()
        assert fits(page)

    with app.app_context():
        (report,) = db.session.execute(sa.select(ProgressReport)).scalars()
        assert (report.title, len(report.evidence)) == ("Sumur pertama mengalir", 1)
        db.session.remove()
