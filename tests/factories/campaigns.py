"""Builders shared by the campaign tests (this module holds no tests of its own)."""
from __future__ import annotations

import datetime as dt
import io

from PIL import Image

from accounts.models import User
from amanah.extensions import db
from campaigns import services
from campaigns.lifecycle import Status
from tests.factories import login, make_user

VISITORS = ("anonymous", "donor", "other_organizer", "owner", "treasurer", "auditor", "admin")


def make_people(app) -> dict[str, int | None]:
    """One user of every kind; returns their ids (anonymous is None)."""
    with app.app_context():
        people = {
            "anonymous": None,
            "donor": make_user(None, name="Dewi Donatur").id,
            "other_organizer": make_user(None, "organizer", name="Bayu Penggalang").id,
            "owner": make_user(None, "organizer", name="Siti Rahayu").id,
            "treasurer": make_user(None, "treasurer", name="Agus Bendahara").id,
            "auditor": make_user(None, "auditor", name="Rina Auditor").id,
            "admin": make_user(None, "admin", name="Hendra Admin").id,
        }
    return people


def user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id is not None else None


def client_for(app, user_id: int | None, language: str = "id"):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    if user_id is not None:
        with app.app_context():
            login(client, db.session.get(User, user_id))
    return client


def future(days: int = 30) -> dt.date:
    return services.today_wib() + dt.timedelta(days=days)


def campaign_input(treasurer_id: int, /, **overrides) -> services.CampaignInput:
    values = dict(
        title="Posyandu Melati untuk balita Dusun Krapyak",
        story=("Posyandu Melati melayani 80 balita di Dusun Krapyak, Kabupaten Sleman. "
               "Timbangan dan alat ukur tinggi badan sudah rusak.\n\n"
               "Dana akan dipakai untuk **alat baru** dan makanan tambahan."),
        goal=2_500_000_000, currency="IDR", deadline=future(), category="health", region="34",
        city="Kabupaten Sleman", beneficiary="80 balita dan ibu hamil di Dusun Krapyak",
        treasurer_id=treasurer_id)
    values.update(overrides)
    return services.CampaignInput(**values)


def make_campaign(app, owner_id: int, treasurer_id: int, status: str = "published",
                  admin_id: int | None = None, **overrides) -> str:
    """Create a campaign through the services and walk it to `status`; returns its public id."""
    with app.app_context():
        owner = user(owner_id)
        campaign = services.create_campaign(owner, campaign_input(treasurer_id, **overrides))
        if status != Status.DRAFT:
            services.submit(campaign, owner)
        if status in (Status.PUBLISHED, Status.CLOSED, Status.REJECTED):
            admin = user(admin_id) if admin_id else make_user(None, "admin")
            if status == Status.REJECTED:
                services.reject(campaign, admin, "Ceritanya kurang jelas.")
            else:
                services.publish(campaign, admin)
        if status == Status.CLOSED:
            services.close(campaign, owner, "Selesai")
        db.session.commit()
        return campaign.public_id


def image_bytes(fmt: str = "PNG", size=(400, 300), color="teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def _form(treasurer_id, /, **overrides):
    data = {"title": "Taman baca untuk anak nelayan Kupang", "story": "Cerita " * 20, "currency": "IDR",
            "goal": "15.000.000", "deadline": future().isoformat(), "category": "education", "region": "53",
            "city": "Kota Kupang", "beneficiary": "60 anak nelayan di Oesapa",
            "treasurer_id": str(treasurer_id)}
    data.update(overrides)
    return data
