"""`flask demo`: service points of the demo organizations, in five provinces, each funded by the
demo campaigns its organization runs. Idempotent: a point is found again by its organization and
name."""
from __future__ import annotations

import sqlalchemy as sa

from amanah.extensions import db
from campaigns.models import Campaign
from maps import services
from maps.models import ServicePoint
from organizations.models import Organization

# organization -> (name, category, address, city, province, lat, lon, hours, contact)
POINTS = {
    "Yayasan Sehat Bersama Sleman": [
        ("Posyandu Melati Dusun Krapyak", "health", "Dusun Krapyak, Wedomartani, Ngemplak",
         "Kabupaten Sleman", "34", -7.7156, 110.4269, "Tanggal 10 tiap bulan, 08.00–11.00", "0812-2700-1100"),
        ("Posyandu Mawar Hargobinangun", "health", "Hargobinangun, Pakem", "Kabupaten Sleman", "34",
         -7.6317, 110.4194, "Tanggal 15 tiap bulan, 08.00–11.00", "0812-2700-1101"),
    ],
    "Puskesmas Sentani": [
        ("Puskesmas Sentani", "health", "Jl. Raya Sentani", "Kabupaten Jayapura", "94",
         -2.5689, 140.5145, "Senin–Sabtu 08.00–14.00", "(0967) 591234"),
    ],
    "Koperasi Nelayan Bahari Bulukumba": [
        ("Balai Latihan Koperasi Bahari", "economy", "Jl. Pelabuhan Leppe'e, Ujung Bulu",
         "Kabupaten Bulukumba", "73", -5.5569, 120.1942, "Senin–Jumat 09.00–16.00",
         "koperasibahari@contoh.id"),
    ],
    "Komunitas Literasi Pesisir Oesapa": [
        ("Taman Baca Pesisir Oesapa", "education", "RT 08/RW 03, Kelurahan Oesapa", "Kota Kupang", "53",
         -10.1446, 123.6349, "Selasa–Minggu 15.00–18.00", "0812-3456-7890"),
    ],
    "Masjid Raya Al-Ikhlas Semarang": [
        ("Dapur Umum Masjid Al-Ikhlas", "social", "Jl. Pandanaran No. 45", "Kota Semarang", "33",
         -6.9858, 110.4133, "Setiap hari 11.00–13.00", "(024) 8412345"),
    ],
}


def load_demo_points() -> list[str]:
    added = 0
    for org_name, points in POINTS.items():
        org = db.session.scalar(sa.select(Organization).where(Organization.name == org_name))
        if org is None:
            continue
        funding = list(db.session.scalars(sa.select(Campaign.id).where(Campaign.organization_id == org.id)))
        for name, category, address, city, province, lat, lon, hours, contact in points:
            exists = db.session.scalar(sa.select(ServicePoint.id).where(
                ServicePoint.organization_id == org.id, ServicePoint.name == name))
            if exists is not None:
                continue
            services.create_point(org, services.ServicePointInput(
                name=name, category=category, address=address, city=city, province=province,
                latitude=str(lat), longitude=str(lon), opening_hours=hours, contact=contact,
                campaign_ids=funding))
            added += 1
    return [f"Demo service points: {added}."] if added else []
