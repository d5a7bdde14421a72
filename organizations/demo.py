"""`flask demo` for organizations: one of each kind, with members, a verification paper each,
and three of them verified. Idempotent: an organization is found again by its name."""
from __future__ import annotations

import io

import sqlalchemy as sa
from PIL import Image, ImageDraw

from accounts.models import User
from amanah.extensions import db
from organizations import services
from organizations.models import MemberRole, Organization, OrganizationType

# (name, kind, legal basis, NPWP, address, contact, description, organizer, verified)
ORGANIZATIONS = [
    ("Yayasan Sehat Bersama Sleman", OrganizationType.FOUNDATION,
     "SK Kemenkumham No. AHU-0012345.AH.01.04.Tahun 2019", "012345678901000",
     "Jl. Kaliurang Km 9, Ngaglik, Kabupaten Sleman, DI Yogyakarta 55581", "halo@sehatbersama.or.id",
     "Yayasan yang mendampingi posyandu dan kader kesehatan di lereng Merapi sejak 2019.",
     "budi.santoso@amanah.test", True),
    ("Puskesmas Sentani", OrganizationType.GOVERNMENT,
     "Peraturan Bupati Jayapura No. 12 Tahun 2017 tentang Organisasi dan Tata Kerja Puskesmas",
     "0012345678123000", "Jl. Raya Sentani, Kabupaten Jayapura, Papua 99352", "(0967) 591234",
     "Pusat kesehatan masyarakat yang melayani 12 kampung di sekitar Danau Sentani.",
     "budi.santoso@amanah.test", True),
    ("Koperasi Nelayan Bahari Bulukumba", OrganizationType.BUSINESS,
     "Akta pendirian koperasi No. 7, disahkan SK Kemenkop No. 001234/BH/M.KUKM.2/I/2016",
     "023456789012000", "Jl. Pelabuhan Leppe'e, Kabupaten Bulukumba, Sulawesi Selatan 92511",
     "koperasibahari@contoh.id",
     "Koperasi 140 nelayan dan pengrajin kapal pinisi; program CSR-nya membiayai pelatihan anggota.",
     "budi.santoso@amanah.test", False),
    ("Komunitas Literasi Pesisir Oesapa", OrganizationType.COMMUNITY,
     "Surat Keterangan Lurah Oesapa No. 140/27/KL.OSP/2021", None,
     "RT 08/RW 03, Kelurahan Oesapa, Kota Kupang, NTT 85228", "0812-3456-7890",
     "Relawan muda yang membuka taman baca dan kelas membaca bagi anak-anak nelayan.",
     "rina.wulandari@amanah.test", True),
    ("Masjid Raya Al-Ikhlas Semarang", OrganizationType.RELIGIOUS,
     "Akta Yayasan Takmir Masjid Al-Ikhlas No. 21, SK AHU-0034567.AH.01.04.Tahun 2015",
     "034567890123000", "Jl. Pandanaran No. 45, Kota Semarang, Jawa Tengah 50241",
     "takmir@alikhlas-smg.or.id",
     "Takmir masjid yang mengelola dapur umum, santunan yatim, dan bantuan bencana di Semarang.",
     "rina.wulandari@amanah.test", False),
]
TREASURER = "agus.pratama@amanah.test"
ADMIN = "dewi.lestari@amanah.test"


def _paper(title: str) -> bytes:
    """A plain picture standing in for a scanned paper, drawn here (the demo has no real scans)."""
    image = Image.new("RGB", (900, 1270), "#fbfaf6")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 860, 1230), outline="#7a7566", width=4)
    draw.text((90, 110), f"CONTOH DOKUMEN DEMO\n\n{title}", fill="#222222")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def load_demo_organizations() -> list[str]:
    organizers_treasurer, admin = _user(TREASURER), _user(ADMIN)
    created = 0
    for name, kind, legal, npwp, address, contact, about, organizer_email, verified in ORGANIZATIONS:
        organizer = _user(organizer_email)
        known = db.session.scalar(sa.select(Organization.id).where(Organization.name == name))
        if organizer is None or known is not None:
            continue
        org = services.create_organization(organizer, services.OrganizationInput(
            name=name, type=kind.value, legal_basis=legal, address=address, npwp=npwp or "",
            contact=contact, description=about))
        if organizers_treasurer is not None:
            services.add_member(org, organizers_treasurer.email, MemberRole.TREASURER.value)
        services.add_document(org, organizer, _paper(legal), "Dokumen dasar hukum (contoh)")
        if verified and admin is not None:
            services.verify(org, admin, "Demo: nomor dasar hukum dicocokkan dengan dokumen yang diunggah.")
        created += 1
    db.session.commit()
    return [f"Demo organizations: {len(ORGANIZATIONS)} defined, {created} created now."]
