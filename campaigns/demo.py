"""`flask demo` for campaigns: published campaigns in every category, a draft, one under review,
and one closed with its final update once its money was given and paid out.

Idempotent: a campaign is found again by its organizer and title, an update by its title, and a
cover image is content-addressed, so running the loader twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
import functools
import io

import sqlalchemy as sa
from PIL import Image, ImageDraw

from accounts.models import Role, User, UserRole
from amanah.demo import demo_loader
from amanah.extensions import db
from campaigns import services
from campaigns.demo_data import CAMPAIGNS, FINAL_UPDATES
from campaigns.lifecycle import Status
from campaigns.models import Campaign, CampaignUpdate

# The accounts loader (order 10) creates these; when it has not run, we create them unusable.
DEMO_USERS = {
    "dewi.lestari@amanah.test": ("Dewi Lestari", Role.ADMIN),
    "budi.santoso@amanah.test": ("Budi Santoso", Role.ORGANIZER),
    "rina.wulandari@amanah.test": ("Rina Wulandari", Role.ORGANIZER),
    "agus.pratama@amanah.test": ("Agus Pratama", Role.TREASURER),
    "maya.kusuma@amanah.test": ("Maya Kusuma", Role.AUDITOR),
}
COLOURS = {"social": "#b5473a", "education": "#2f6690", "health": "#1d7a55", "economy": "#a0722a",
           "culture": "#7b3f8c", "digital": "#35606e"}


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    name, role = DEMO_USERS[email]
    if user is None:
        user = User(email=email, display_name=name, password_hash="!demo")  # noqa: S106 - unusable
        db.session.add(user)
    if not user.has_role(role):
        user.roles.append(UserRole(role=role.value))
    db.session.flush()
    return user


@functools.cache
def cover_png(category: str) -> bytes:
    """A simple picture per category: a coloured background and one shape, drawn here (at 1200 x 750,
    scaled to 800 x 500: large enough for a page and a shared link, quick to encode as WebP)."""
    image = Image.new("RGB", (1200, 750), COLOURS[category])
    draw = ImageDraw.Draw(image)
    light = "#f6efe1"
    if category == "social":  # two hands' worth of a heart
        draw.ellipse((430, 220, 610, 400), fill=light)
        draw.ellipse((590, 220, 770, 400), fill=light)
        draw.polygon([(440, 340), (760, 340), (600, 560)], fill=light)
    elif category == "education":  # an open book
        draw.polygon([(330, 250), (595, 290), (595, 540), (330, 500)], fill=light)
        draw.polygon([(605, 290), (870, 250), (870, 500), (605, 540)], fill=light)
    elif category == "health":  # a cross
        draw.rectangle((540, 200, 660, 550), fill=light)
        draw.rectangle((425, 315, 775, 435), fill=light)
    elif category == "economy":  # a stack of coins
        for i in range(4):
            draw.ellipse((480, 470 - i * 70, 720, 550 - i * 70), fill=light, outline=COLOURS[category],
                         width=6)
    elif category == "culture":  # a gunungan-like peak
        draw.polygon([(600, 170), (800, 560), (400, 560)], fill=light)
    else:  # digital: signal arcs and a dot
        for i, radius in enumerate((300, 220, 140)):
            draw.arc((600 - radius, 520 - radius, 600 + radius, 520 + radius), 225, 315, fill=light,
                     width=36 - i * 4)
        draw.ellipse((570, 490, 630, 550), fill=light)
    buffer = io.BytesIO()
    image.resize((800, 500), Image.Resampling.LANCZOS).save(buffer, "PNG")
    return buffer.getvalue()


def _campaign(organizer: User, treasurer: User, admin: User, spec) -> tuple[Campaign, bool]:
    (_email, status, category, region, city, title, goal_idr, days, beneficiary, story, _updates) = spec
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.organizer_id == organizer.id,
                                                           Campaign.title == title))
    if campaign is not None:
        return campaign, False
    data = services.CampaignInput(
        title=title, story=story, goal=goal_idr * 100, currency="IDR",
        deadline=services.today_wib() + dt.timedelta(days=days), category=category, region=region,
        city=city, beneficiary=beneficiary, treasurer_id=treasurer.id, cover=cover_png(category))
    campaign = services.create_campaign(organizer, data)
    if status != Status.DRAFT:
        services.submit(campaign, organizer)
    if status in (Status.PUBLISHED, Status.CLOSED):  # a closed one is closed by close_demo_campaigns
        services.publish(campaign, admin)
    return campaign, True


def load_demo_campaigns() -> list[str]:
    admin, treasurer = _user("dewi.lestari@amanah.test"), _user("agus.pratama@amanah.test")
    _user("maya.kusuma@amanah.test")
    created = 0
    for spec in CAMPAIGNS:
        organizer = _user(spec[0])
        campaign, new = _campaign(organizer, treasurer, admin, spec)
        created += new
        for title, body in spec[10]:
            exists = db.session.scalar(sa.select(CampaignUpdate.id).where(
                CampaignUpdate.campaign_id == campaign.id, CampaignUpdate.title == title))
            if exists is None and campaign.is_public:
                services.post_update(campaign, organizer, title, body)
    return [f"Demo campaigns: {len(CAMPAIGNS)} defined, {created} created now."]


def close_demo_campaigns() -> list[str]:
    """After the gifts (donations' loader) and the payments (treasury's): the final update, then close."""
    closed = 0
    for spec in CAMPAIGNS:
        title = spec[5]
        if spec[1] != Status.CLOSED or title not in FINAL_UPDATES:
            continue
        organizer = _user(spec[0])
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.organizer_id == organizer.id,
                                                               Campaign.title == title))
        if campaign is None or campaign.status != Status.PUBLISHED:
            continue  # not created here, or closed already
        update_title, body, reason = FINAL_UPDATES[title]
        services.post_update(campaign, organizer, update_title, body)
        services.close(campaign, organizer, reason)
        closed += 1
    return [f"Demo campaigns closed with their final update: {closed}."] if closed else []


def register() -> None:
    demo_loader(order=20, name="campaigns")(load_demo_campaigns)
    demo_loader(order=50, name="campaigns-closing")(close_demo_campaigns)

