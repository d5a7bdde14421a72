"""`flask demo`: outcome indicators and a first progress report for two demo campaigns, so that the
campaign page's indicators, the report timeline and the ledger's `report` entries have something to
show. The report's evidence is an attendance list drawn here and labelled as demo data (never a scan
pretending to be real). Idempotent: a campaign that already has indicators or reports is left alone.
Runs after the disbursements' loader (a report accounts for them) and before campaigns close."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from PIL import Image, ImageDraw

from accounts.models import User
from amanah.extensions import db
from campaigns import indicators
from campaigns.demo_data import CAMPAIGNS
from campaigns.models import Campaign
from campaigns.services import today_wib
from reports import services
from reports.models import ProgressReport
from treasury import disbursements
from treasury.demo import demo_font, draw_demo_notice

# By campaign title: indicators (name, unit, kind, direction, baseline, target, days until due) and
# the report (title, narrative, value per indicator name, evidence title, attendance rows).
DEMO_OUTCOMES = {
    CAMPAIGNS[0][5]: (
        [("Balita ditimbang setiap bulan", "balita", "count", "increase", "40", "90", 120),
         ("Balita ditimbang dengan timbangan digital", "persen", "percent", "increase", "0", "100", 60)],
        ("Laporan bulan pertama: timbangan digital dipakai",
         "Dua timbangan digital bayi dari **Toko Alat Kesehatan Sehat Sentosa** sudah dipakai pada "
         "hari posyandu bulan ini.\n\n- 62 balita ditimbang (bulan lalu 40),\n"
         "- semua penimbangan memakai timbangan digital,\n- daftar hadir terlampir.",
         {"Balita ditimbang setiap bulan": "62", "Balita ditimbang dengan timbangan digital": "100"},
         "Daftar hadir posyandu (contoh)",
         [("Selasa kedua", "62 balita", "11 ibu hamil"), ("Kader hadir", "7 orang", "")]),
    ),
    CAMPAIGNS[1][5]: (
        [("Anak yang lulus tes membaca", "persen", "percent", "increase", "35", "70", 240),
         ("Buku cerita anak di taman baca", "buku", "count", "increase", "0", "600", 180)],
        ("Buku tahap pertama tiba",
         "150 buku cerita anak dari **Toko Buku Cahaya Kupang** sudah tertata di rak yang dibuat "
         "warga. Taman baca buka setiap sore; daftar hadir minggu pertama terlampir.",
         {"Buku cerita anak di taman baca": "150"},
         "Daftar hadir taman baca (contoh)",
         [("Senin-Jumat", "38 anak rata-rata", ""), ("Relawan", "2 orang", "")]),
    ),
}


def attendance_sheet(title: str, campaign: str, rows: list[tuple[str, str, str]]) -> bytes:
    """A small attendance summary drawn with Pillow, clearly marked as demo data (PNG)."""
    image = Image.new("RGB", (1000, 620), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1000, 90), fill="#1d7a55")
    draw.text((40, 24), "DEMO / CONTOH", fill="white", font=demo_font(40))
    draw.text((40, 120), title, fill="black", font=demo_font(30))
    draw.text((40, 165), f"Kampanye / Campaign {campaign}", fill="#555555", font=demo_font(24))
    y = 230
    for cells in rows:
        for x, cell in zip((40, 380, 700), cells, strict=True):
            draw.text((x, y), cell, fill="black", font=demo_font(28))
        y += 60
    draw_demo_notice(draw, (30, 480, 970, 590), 24)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def load_demo_outcomes() -> list[str]:
    campaigns = db.session.execute(sa.select(Campaign).where(
        Campaign.title.in_(DEMO_OUTCOMES), Campaign.status == "published")).scalars().all()
    made = 0
    for campaign in sorted(campaigns, key=lambda c: c.id):
        has_report = db.session.scalar(sa.select(ProgressReport.id).where(
            ProgressReport.campaign_id == campaign.id).limit(1))
        if campaign.indicators or has_report is not None:
            continue
        organizer = db.session.get(User, campaign.organizer_id)
        specs, (title, narrative, values, evidence_title, rows) = DEMO_OUTCOMES[campaign.title]
        today = today_wib()
        declared = {}
        for name, unit, kind, direction, baseline, target, days in specs:
            declared[name] = indicators.add_indicator(campaign, organizer, indicators.IndicatorInput(
                name=name, unit=unit, kind=kind, direction=direction, baseline=baseline, target=target,
                due=today + dt.timedelta(days=days)))
        paid = disbursements.for_campaign(campaign)
        services.post_report(campaign, organizer, services.ReportInput(
            title=title, narrative=narrative,
            values={declared[name].id: value for name, value in values.items()},
            evidence=[services.EvidenceUpload(attendance_sheet(evidence_title, campaign.public_id, rows),
                                              evidence_title)],
            disbursement_ids=[d.id for d in paid]))
        db.session.commit()
        made += 1
    return [f"Outcome indicators and a progress report added to {made} demo campaigns."] if made else []
