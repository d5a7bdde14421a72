"""Organizations: profiles, members, private verification papers, the badge, and the campaigns
they run (services called directly, then the pages and the API)."""
from __future__ import annotations

import hashlib
import io
import re

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah import evidence
from amanah.errors import UserError, ValidationError
from amanah.extensions import db
from campaigns import services as campaign_services
from campaigns.models import Campaign
from organizations import services
from organizations.models import Organization, OrganizationDocument
from tests.factories import make_user
from tests.factories.campaigns import campaign_input, client_for, make_campaign
from tests.factories.treasury import pdf, picture

PROFILE = dict(name="Yayasan Peduli Anak Sleman", type="foundation",
               legal_basis="SK Kemenkumham No. AHU-0012345.AH.01.04.Tahun 2019",
               address="Jl. Kaliurang Km 9, Sleman", npwp="01.234.567.8-901.000",
               contact="halo@peduli.or.id", description="Mendampingi posyandu di lereng Merapi.")


def profile(**changes) -> services.OrganizationInput:
    return services.OrganizationInput(**{**PROFILE, **changes})


@pytest.fixture
def people(app):
    with app.app_context():
        return {
            "organizer": make_user(None, "organizer", name="Siti Rahayu").id,
            "other_organizer": make_user(None, "organizer", name="Bayu").id,
            "treasurer": make_user(None, "treasurer", name="Agus").id,
            "donor": make_user(None, name="Dewi").id,
            "auditor": make_user(None, "auditor", name="Rina").id,
            "admin": make_user(None, "admin", name="Hendra").id,
        }


def _org(app, people, verified=False) -> str:
    with app.app_context():
        organizer = db.session.get(User, people["organizer"])
        org = services.create_organization(organizer, profile())
        services.add_member(org, db.session.get(User, people["treasurer"]).email, "treasurer")
        if verified:
            services.add_document(org, organizer, pdf(1), "Akta pendirian")
            services.verify(org, db.session.get(User, people["admin"]), "SK dicocokkan dengan AHU online")
        db.session.commit()
        return org.slug


# ---- services ----

def test_a_new_organization_is_unverified_and_its_creator_organizes_for_it(app, people):
    slug = _org(app, people)
    with app.app_context():
        org = services.get_by_slug(slug)
        assert slug == "yayasan-peduli-anak-sleman" and not org.is_verified
        assert org.npwp == "012345678901000" and services.format_npwp(org.npwp) == "01.234.567.8-901.000"
        assert org.has_member(db.session.get(User, people["organizer"]), "organizer")
        assert org.has_member(db.session.get(User, people["treasurer"]), "treasurer")
        assert not org.has_member(db.session.get(User, people["treasurer"]), "organizer")
        # A second one of the same name gets its own address.
        again = services.create_organization(db.session.get(User, people["other_organizer"]), profile())
        assert again.slug == "yayasan-peduli-anak-sleman-2"


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": ""}, "name"), ({"type": "party"}, "type"), ({"legal_basis": " "}, "legal_basis"),
    ({"npwp": "12345"}, "npwp"), ({"npwp": "01.234.567.8-901.00x"}, "npwp"),
    ({"contact": "a\x00b"}, "contact"), ({"name": "x" * 161}, "name"),
])
def test_bad_profiles_name_the_field_and_save_nothing(app, people, changes, field):
    with app.app_context():
        with pytest.raises(ValidationError) as caught:
            services.create_organization(db.session.get(User, people["organizer"]), profile(**changes))
        assert field in caught.value.errors
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 0


@pytest.mark.parametrize(("text", "digits"), [
    ("01.234.567.8-901.000", "012345678901000"), ("012345678901000", "012345678901000"),
    ("3174 0123 4567 8901", "3174012345678901"), ("", None)])
def test_npwp_is_taken_in_either_format(text, digits):
    assert services.normalize_npwp(text) == digits


def test_members_are_registered_users_once_per_role_and_the_last_organizer_stays(app, people):
    slug = _org(app, people)
    with app.app_context():
        org = services.get_by_slug(slug)
        with pytest.raises(UserError):
            services.add_member(org, "nobody@example.test", "organizer")
        with pytest.raises(UserError):
            services.add_member(org, db.session.get(User, people["treasurer"]).email, "treasurer")
        with pytest.raises(UserError):
            services.add_member(org, db.session.get(User, people["donor"]).email, "owner")
        (organizer,) = [m for m in org.members if m.role == "organizer"]
        with pytest.raises(UserError):
            services.remove_member(org, organizer.id)
        services.add_member(org, db.session.get(User, people["other_organizer"]).email, "organizer")
        services.remove_member(org, organizer.id)
        db.session.commit()
        assert [m.user_id for m in services.get_by_slug(slug).members if m.role == "organizer"] == [
            people["other_organizer"]]


@pytest.mark.files
def test_papers_are_kept_privately_by_hash_with_photo_metadata_removed(app, people):
    slug = _org(app, people)
    with app.app_context():
        org, organizer = services.get_by_slug(slug), db.session.get(User, people["organizer"])
        paper = pdf(7)
        document = services.add_document(org, organizer, paper, "Akta pendirian")
        db.session.commit()
        assert document.sha256 == hashlib.sha256(paper).hexdigest()
        assert evidence.read(document.sha256, services.DOCUMENT_KIND) == paper
        assert services.DOCUMENT_KIND == "organization-documents"  # never the published evidence
        with pytest.raises(UserError):
            services.add_document(org, organizer, paper, "Lagi")  # the same file twice
        with pytest.raises(UserError):
            services.add_document(org, organizer, b"<html>not a document</html>", "Akta")
        with pytest.raises(UserError):
            services.add_document(org, organizer, picture(3, "PNG"), " ")


def test_verification_needs_papers_and_a_note_and_lapses_when_the_identity_changes(app, people):
    slug = _org(app, people)
    with app.app_context():
        org, admin = services.get_by_slug(slug), db.session.get(User, people["admin"])
        with pytest.raises(UserError):
            services.verify(org, admin, "ok")  # nothing to verify from
        services.add_document(org, db.session.get(User, people["organizer"]), pdf(2), "SK")
        with pytest.raises(UserError):
            services.verify(org, admin, "  ")
        services.verify(org, admin, "SK dicocokkan")
        assert org.is_verified and org.verified_by_id == admin.id
        services.update_organization(org, profile(contact="0812-000-111"))
        assert org.is_verified  # contact details are not what was verified
        services.update_organization(org, profile(contact="0812-000-111", npwp="3174012345678901"))
        assert not org.is_verified and "NPWP" in org.verification_note


# ---- campaigns run by an organization ----

@pytest.mark.files
def test_a_campaign_is_run_by_an_organization_its_organizer_organizes_for(app, people):
    slug = _org(app, people, verified=True)
    with app.app_context():
        org = services.get_by_slug(slug)
        organizer = db.session.get(User, people["organizer"])
        campaign = campaign_services.create_campaign(
            organizer, campaign_input(people["treasurer"], organization_id=org.id))
        db.session.commit()
        assert campaign.organization.slug == slug
        stranger = db.session.get(User, people["other_organizer"])
        errors = campaign_services.check_campaign(
            campaign_input(people["treasurer"], organization_id=org.id), organizer=stranger)
        assert set(errors) == {"organization_id"}
        other_treasurer = make_user(None, "treasurer")
        errors = campaign_services.check_campaign(
            campaign_input(other_treasurer.id, organization_id=org.id), organizer=organizer)
        assert set(errors) == {"treasurer_id"}  # not one of its treasurers


def test_personal_campaigns_can_be_switched_off(app, people):
    with app.app_context():
        organizer = db.session.get(User, people["organizer"])
        personal = campaign_input(people["treasurer"])
        assert campaign_services.check_campaign(personal, organizer=organizer) == {}
        app.config["PERSONAL_CAMPAIGNS"] = False
        errors = campaign_services.check_campaign(campaign_input(people["treasurer"]), organizer=organizer)
        assert set(errors) == {"organization_id"}


def test_the_organization_of_a_public_campaign_cannot_change(app, people):
    slug = _org(app, people)
    public_id = make_campaign(app, people["organizer"], people["treasurer"], admin_id=people["admin"])
    with app.app_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        org = services.get_by_slug(slug)
        errors = campaign_services.check_campaign(
            campaign_input(people["treasurer"], organization_id=org.id), campaign)
        assert set(errors) == {"organization_id"}


def test_the_campaign_form_offers_ones_organizations_and_saves_the_choice(app, people):
    slug = _org(app, people)
    with app.app_context():
        org_id = services.get_by_slug(slug).id
    client = client_for(app, people["organizer"], "en")
    page = client.get("/campaigns/new").get_data(as_text=True)
    assert "Yayasan Peduli Anak Sleman" in page and "Myself, in person" in page
    form = {"csrf_token": _csrf(page),
            "title": "Timbangan baru untuk Posyandu", "story": "s" * 80, "currency": "IDR",
            "goal": "25,000,000", "deadline": campaign_input(1).deadline.isoformat(), "category": "health",
            "region": "34", "city": "Sleman", "beneficiary": "80 balita di Sleman",
            "treasurer_id": str(people["treasurer"]), "organization_id": str(org_id)}
    created = client.post("/campaigns/new", data=form)
    assert created.status_code == 303, re.findall(r'field-error[^>]*>([^<]+)', created.get_data(as_text=True))
    other = client_for(app, people["other_organizer"], "en")
    page = other.get("/campaigns/new").get_data(as_text=True)
    assert "Yayasan Peduli Anak Sleman" not in page
    form["csrf_token"] = _csrf(page)
    refused = other.post("/campaigns/new", data=form)
    assert refused.status_code == 422 and "organizations you organize for" in refused.get_data(as_text=True)
    with app.app_context():
        assert [c.organization_id for c in db.session.scalars(sa.select(Campaign))] == [org_id]


# ---- pages ----

def _csrf(page: str) -> str:
    """The page's CSRF token (the suite switches CSRF off; tests/amanah checks every form has one)."""
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]*)"', page)
    return found.group(1) if found else ""


def test_an_organizer_registers_an_organization_through_the_form(app, people):
    client = client_for(app, people["organizer"], "en")
    page = client.get("/organizations/new").get_data(as_text=True)
    bad = client.post("/organizations/new", data={**PROFILE, "npwp": "123", "csrf_token": _csrf(page)})
    assert bad.status_code == 422 and "15 or 16 digits" in bad.get_data(as_text=True)
    done = client.post("/organizations/new", data={**PROFILE, "csrf_token": _csrf(page)})
    assert done.status_code == 303
    assert done.location.endswith("/organizations/yayasan-peduli-anak-sleman/manage")
    assert client_for(app, people["donor"]).get("/organizations/new").status_code == 403
    assert client_for(app, None).get("/organizations/new").status_code in (302, 303)


@pytest.mark.files
def test_only_its_organizers_and_admins_manage_it_and_open_its_papers(app, people):
    slug = _org(app, people, verified=True)
    with app.app_context():
        document_id, sha256 = db.session.execute(
            sa.select(OrganizationDocument.id, OrganizationDocument.sha256)).one()
    url = f"/organizations/{slug}/documents/{document_id}"
    for who, manage, paper in (("organizer", 200, 200), ("admin", 200, 200), ("treasurer", 403, 404),
                               ("other_organizer", 403, 404), ("auditor", 403, 404), ("donor", 403, 404)):
        client = client_for(app, people[who])
        assert client.get(f"/organizations/{slug}/manage").status_code == manage, who
        with client.get(url) as response:
            assert response.status_code == paper, who
            if paper == 200:
                assert hashlib.sha256(response.data).hexdigest() == sha256
                assert response.headers["Cache-Control"] == "private, no-store"
    assert client_for(app, None).get(url).status_code == 404


@pytest.mark.files
def test_members_and_papers_are_added_through_the_manage_page(app, people):
    slug = _org(app, people)
    client = client_for(app, people["organizer"], "en")
    page = client.get(f"/organizations/{slug}/manage").get_data(as_text=True)
    with app.app_context():
        email = db.session.get(User, people["other_organizer"]).email
    unknown = client.post(f"/organizations/{slug}/members", data={
        "csrf_token": _csrf(page), "email": "nobody@example.test", "role": "organizer"})
    assert unknown.status_code == 422 and "No active account" in unknown.get_data(as_text=True)
    added = client.post(f"/organizations/{slug}/members", data={
        "csrf_token": _csrf(page), "email": email, "role": "organizer"})
    assert added.status_code == 303
    bad = client.post(f"/organizations/{slug}/documents", data={
        "csrf_token": _csrf(page), "title": "Akta", "document": (io.BytesIO(b"nope"), "a.pdf")},
        content_type="multipart/form-data")
    assert bad.status_code == 422
    paper = pdf(4)  # made once: a PDF made again a second later has another creation date
    uploaded = client.post(f"/organizations/{slug}/documents", data={
        "csrf_token": _csrf(page), "title": "Akta", "document": (io.BytesIO(paper), "a.pdf")},
        content_type="multipart/form-data")
    assert uploaded.status_code == 303
    with app.app_context():
        org = services.get_by_slug(slug)
        assert {m.user_id for m in org.members if m.role == "organizer"} == {
            people["organizer"], people["other_organizer"]}
        assert [d.sha256 for d in org.documents] == [hashlib.sha256(paper).hexdigest()]
    # Someone else cannot add themselves.
    stranger = client_for(app, people["donor"])
    assert stranger.post(f"/organizations/{slug}/members", data={
        "csrf_token": _csrf(page), "email": "x@example.test", "role": "organizer"}).status_code in (400, 403)


def test_a_member_is_removed_through_the_manage_page(app, people):
    """The permission check loaded the organization with every part of the URL, the member's id too:
    each removal was a 500 before."""
    slug = _org(app, people)
    with app.app_context():
        org = services.get_by_slug(slug)
        (member_id,) = [m.id for m in org.members if m.user_id == people["treasurer"]]
        (organizer_id,) = [m.id for m in org.members if m.user_id == people["organizer"]]
    outsider = client_for(app, people["other_organizer"])
    assert outsider.post(f"/organizations/{slug}/members/{member_id}/remove").status_code == 403
    client = client_for(app, people["organizer"], "en")
    removed = client.post(f"/organizations/{slug}/members/{member_id}/remove")
    assert removed.status_code == 303 and removed.location.endswith(f"/organizations/{slug}/manage#members")
    unknown = client.post(f"/organizations/{slug}/members/{member_id}/remove", follow_redirects=True)
    assert "This person is not a member of the organization." in unknown.get_data(as_text=True)
    last = client.post(f"/organizations/{slug}/members/{organizer_id}/remove", follow_redirects=True)
    assert "An organization keeps at least one organizer." in last.get_data(as_text=True)
    assert client.post(f"/organizations/nobody/members/{member_id}/remove").status_code == 404
    with app.app_context():
        assert [m.user_id for m in services.get_by_slug(slug).members] == [people["organizer"]]


@pytest.mark.files
def test_an_admin_verifies_and_the_badge_shows_on_its_page_and_campaigns(app, people):
    slug = _org(app, people)
    with app.app_context():
        org = services.get_by_slug(slug)
        services.add_document(org, db.session.get(User, people["organizer"]), pdf(5), "SK")
        organizer = db.session.get(User, people["organizer"])
        campaign = campaign_services.create_campaign(
            organizer, campaign_input(people["treasurer"], organization_id=org.id))
        campaign_services.submit(campaign, organizer)
        campaign_services.publish(campaign, db.session.get(User, people["admin"]))
        db.session.commit()
        campaign_url = f"/campaigns/{campaign.public_id}/{campaign.slug}"
    public = client_for(app, None, "en")
    assert "Not verified yet" in public.get(f"/organizations/{slug}").get_data(as_text=True)
    admin = client_for(app, people["admin"], "en")
    queue = admin.get("/admin/organizations").get_data(as_text=True)
    assert "Yayasan Peduli Anak Sleman" in queue
    page = admin.get(f"/organizations/{slug}/verification").get_data(as_text=True)
    assert admin.post(f"/organizations/{slug}/verification", data={
        "csrf_token": _csrf(page), "decision": "verify", "note": ""}).status_code == 422
    assert admin.post(f"/organizations/{slug}/verification", data={
        "csrf_token": _csrf(page), "decision": "verify", "note": "SK dicocokkan"}).status_code == 303
    for url in (f"/organizations/{slug}", campaign_url, "/organizations/", "/campaigns/", "/"):
        assert "Verified organization" in public.get(url).get_data(as_text=True), url
    text = public.get(f"/organizations/{slug}").get_data(as_text=True)
    assert ("01.234.567.8-901.000" in text and "Timbangan" not in text) or "Posyandu" in text
    organizer_client = client_for(app, people["organizer"])
    assert organizer_client.get(f"/organizations/{slug}/verification").status_code == 403
    assert organizer_client.post(f"/organizations/{slug}/verification", data={
        "csrf_token": _csrf(page), "decision": "revoke", "note": "x"}).status_code in (400, 403)
    assert client_for(app, people["auditor"]).get("/admin/organizations").status_code == 403


def test_the_public_page_adds_up_its_campaigns_per_currency(app, people):
    from tests.factories.treasury import RP, fund
    slug = _org(app, people)
    with app.app_context():
        org = services.get_by_slug(slug)
        organizer, admin = db.session.get(User, people["organizer"]), db.session.get(User, people["admin"])
        for n in range(2):
            campaign = campaign_services.create_campaign(organizer, campaign_input(
                people["treasurer"], organization_id=org.id, title=f"Kampanye ke-{n + 1} yayasan"))
            campaign_services.submit(campaign, organizer)
            campaign_services.publish(campaign, admin)
            db.session.commit()
            fund(campaign, (n + 1) * 1_000_000 * RP, fee=10_000 * RP)
    body = client_for(app, None, "id").get(f"/organizations/{slug}").get_data(as_text=True)
    assert "Rp\xa03.000.000" in body or "Rp 3.000.000" in body
    api = client_for(app, None).get(f"/api/v1/organizations/{slug}").json
    assert api["totals"]["IDR"]["raised"] == 3_000_000 * RP and api["totals"]["IDR"]["fees"] == 20_000 * RP
    assert {c["title"] for c in api["campaigns"]} == {"Kampanye ke-1 yayasan", "Kampanye ke-2 yayasan"}
    assert api["campaigns"][0]["organization"]["slug"] == slug and api["verified"] is False
    assert client_for(app, None).get("/api/v1/organizations/nobody").status_code == 404


@pytest.mark.files("local")  # the demo in a bucket: tests/treasury/test_disbursements_api.py
def test_demo_has_one_organization_of_each_kind_and_is_idempotent(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        kinds = sorted(db.session.scalars(sa.select(Organization.type)))
        assert kinds == sorted(["foundation", "government", "business", "community", "religious"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign).where(
            Campaign.organization_id.is_not(None))) >= 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization).where(
            Organization.verified_at.is_not(None))) == 3
