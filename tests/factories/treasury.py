"""Builders shared by the tests (moved out of test_disbursements.py)."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from PIL import Image, ImageDraw

from accounts.models import Role
from amanah import storage as file_storage
from amanah.db import now_utc
from amanah.extensions import db
from campaigns import categories, regions
from campaigns.models import Campaign
from ledger import storage
from ledger.models import LedgerEntry
from tests.factories import make_user
from treasury.models import Disbursement

RP = 100  # minor units per rupiah (IDR's ISO exponent is 2)


EN = {"Accept-Language": "en"}


def picture(n: int, fmt: str = "PNG") -> bytes:
    """A small real image (or a one-page PDF drawn by Pillow), different for every n."""
    image = Image.new("RGB", (320, 200), (n * 37 % 256, n * 91 % 256, 200))
    ImageDraw.Draw(image).text((10, 10), f"Invoice {n}", fill="black")
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def pdf(n: int) -> bytes:
    return picture(n, "PDF")


def make_campaign(status: str = "published", currency: str = "IDR") -> Campaign:
    organizer = make_user(None, Role.ORGANIZER, name="Organizer")
    treasurer = make_user(None, Role.TREASURER, name="Treasurer")
    campaign = Campaign(slug="air-bersih", title="Air bersih untuk desa", story="x" * 60, goal=10**10,
                        currency=currency, deadline=(now_utc() + dt.timedelta(days=30)).date(),
                        category=categories.CODES[0], region=regions.CODES[0], city="Bandung",
                        beneficiary="Warga desa", organizer_id=organizer.id, treasurer_id=treasurer.id,
                        status=status, published_at=now_utc() if status == "published" else None,
                        created_at=now_utc() - dt.timedelta(days=20))
    db.session.add(campaign)
    db.session.commit()
    return campaign


def fund(campaign: Campaign, amount: int, fee: int = 0) -> None:
    """Money in (and a processor fee out) as the giving service would append it."""
    entry = storage.append(db.session, kind="donation", campaign=campaign.public_id, amount=amount,
                           currency=campaign.currency)
    if fee:
        storage.append(db.session, kind="fee", campaign=campaign.public_id, amount=-fee,
                       currency=campaign.currency, ref=entry.seq)
    db.session.commit()


def form_data(**overrides) -> dict:
    data = {"amount": "250000", "paid_on": (now_utc() - dt.timedelta(days=1)).date().isoformat(),
            "payee_kind": "organization", "payee_name": "Toko Bangunan Sinar Jaya",
            "purpose": "Pipa PVC untuk jaringan air bersih", "category": "goods",
            "evidence_visibility": "public"}
    data.update(overrides)
    content, filename = data.get("evidence") or (pdf(1), "nota.pdf")
    data["evidence"] = (io.BytesIO(content), filename)  # a fresh stream per request
    return {k: v for k, v in data.items() if v is not None}


def stored_nothing(app) -> bool:
    with app.app_context():
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(Disbursement))
        entries = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                                    .where(LedgerEntry.kind == "disbursement"))
        files = list(file_storage.current().keys("uploads/evidence/"))
        return rows == 0 and entries == 0 and files == []


SECRET_PLACE = b"GPS-SECRET-PLACE"


def drawing(size=(320, 200)) -> Image.Image:
    """A picture whose pixels are worth comparing: noise, text and a gradient."""
    image = Image.effect_noise(size, 60).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 200, 90), fill=(250, 250, 240))
    draw.text((30, 40), "TRANSFER Rp 250.000", fill="black")
    return image


def rich_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x010F] = "SecretPhoneMaker"  # Make
    exif[0x0110] = "SecretModel X"  # Model
    exif[0x0132] = "2024:05:06 07:08:09"  # DateTime
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-0042-SECRET"  # Exif IFD: BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "S", (6.0, 54.0, 12.34)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "E", (107.0, 36.0, 56.78)  # GPSLongitudeRef, GPSLongitude
    gps[0x1C] = SECRET_PLACE  # GPSAreaInformation
    return exif
