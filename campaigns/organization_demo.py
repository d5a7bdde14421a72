"""`flask demo`: the demo organizations run the demo campaigns that are theirs (by city)."""
from __future__ import annotations

import sqlalchemy as sa

from amanah.demo import demo_loader
from amanah.extensions import db
from campaigns.models import Campaign
from organizations.models import MemberRole, Organization

# organization name -> the city of the demo campaign it runs
RUNS = {
    "Yayasan Sehat Bersama Sleman": "Kabupaten Sleman",
    "Puskesmas Sentani": "Kabupaten Jayapura",
    "Koperasi Nelayan Bahari Bulukumba": "Kabupaten Bulukumba",
    "Komunitas Literasi Pesisir Oesapa": "Kabupaten Kupang",
    "Masjid Raya Al-Ikhlas Semarang": "Kota Semarang",
}


def link_demo_campaigns() -> list[str]:
    linked = 0
    for name, city in RUNS.items():
        org = db.session.scalar(sa.select(Organization).where(Organization.name == name))
        if org is None:
            continue
        for campaign in db.session.scalars(sa.select(Campaign).where(
                Campaign.city == city, Campaign.organization_id.is_(None))):
            # Only where the campaign's own people belong to it, as the campaign form requires.
            if org.has_member(campaign.organizer, MemberRole.ORGANIZER) and \
                    org.has_member(campaign.treasurer, MemberRole.TREASURER):
                campaign.organization_id = org.id
                linked += 1
    return [f"Demo campaigns linked to their organizations: {linked}."] if linked else []


def register() -> None:
    demo_loader(order=25, name="organization campaigns")(link_demo_campaigns)
