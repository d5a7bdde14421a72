"""Edits of a public campaign are kept: every change of what donors read (story, goal, deadline...)
appends a revision with each changed field before and after; the campaign page links the public list."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns import services
from campaigns.models import Campaign, CampaignRevision
from tests.factories.campaigns import (
    campaign_input,
    client_for,
    future,
    image_bytes,
    make_campaign,
    make_people,
    user,
)

OLD_GOAL, NEW_GOAL = 2_500_000_000, 3_000_000_000  # Rp 25.000.000 -> Rp 30.000.000
OLD_STORY = campaign_input(1).story


@pytest.fixture
def people(app):
    return make_people(app)


def campaign_of(public_id: str) -> Campaign:
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))


def revisions() -> list[CampaignRevision]:
    return list(db.session.scalars(sa.select(CampaignRevision).order_by(CampaignRevision.id)))


def edit(app, people, public_id: str, **overrides) -> None:
    with app.app_context():
        services.update_campaign(campaign_of(public_id), user(people["owner"]),
                                 campaign_input(people["treasurer"], **overrides))
        db.session.commit()


# ---- service ----

def test_editing_a_published_campaign_records_exactly_the_changed_fields(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    new_story = OLD_STORY + "\n\nKami juga membeli buku KIA."
    edit(app, people, public_id, goal=NEW_GOAL, story=new_story)
    with app.app_context():
        [revision] = revisions()
        campaign = campaign_of(public_id)
        assert revision.campaign_id == campaign.id and revision.editor_id == people["owner"]
        assert revision.changes == {"goal": {"before": OLD_GOAL, "after": NEW_GOAL},
                                    "story": {"before": OLD_STORY, "after": new_story}}
        assert campaign.goal == NEW_GOAL and campaign.story == new_story


@pytest.mark.files
def test_dates_are_iso_strings_and_a_closed_campaign_is_recorded_too(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    old_deadline, new_deadline = future(), future(60)
    edit(app, people, public_id, deadline=new_deadline, category="education", cover=image_bytes())
    with app.app_context():
        [revision] = revisions()
        assert revision.changes["deadline"] == {"before": old_deadline.isoformat(),
                                                "after": new_deadline.isoformat()}
        assert revision.changes["category"] == {"before": "health", "after": "education"}
        assert revision.changes["cover"]["before"] is None and revision.changes["cover"]["after"]
        assert set(revision.changes) == {"deadline", "category", "cover"}


def test_a_no_op_edit_writes_nothing(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    edit(app, people, public_id)
    edit(app, people, public_id, title="  Posyandu Melati untuk balita Dusun Krapyak  ")  # stripped: the same
    with app.app_context():
        assert revisions() == []


@pytest.mark.parametrize("status", ["draft", "rejected"])
def test_editing_an_unpublished_campaign_writes_nothing(app, people, status):
    public_id = make_campaign(app, people["owner"], people["treasurer"], status=status)
    edit(app, people, public_id, goal=NEW_GOAL, story=OLD_STORY + " Tambahan.")
    with app.app_context():
        assert campaign_of(public_id).goal == NEW_GOAL and revisions() == []


def test_a_refused_edit_writes_nothing(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    with app.app_context():
        with pytest.raises(services.ValidationError):
            services.update_campaign(campaign_of(public_id), user(people["owner"]),
                                     campaign_input(people["treasurer"], goal=NEW_GOAL, title="x"))
        db.session.rollback()
        assert revisions() == [] and campaign_of(public_id).goal == OLD_GOAL
        with pytest.raises(services.PermissionDenied):
            services.update_campaign(campaign_of(public_id), user(people["other_organizer"]),
                                     campaign_input(people["treasurer"], goal=NEW_GOAL))
        assert revisions() == []


@pytest.mark.parametrize("statement", [
    "UPDATE campaign_revisions SET editor_id = editor_id",
    "UPDATE campaign_revisions SET at = at WHERE 1 = 0 OR 1 = 1",
    "DELETE FROM campaign_revisions",
])
def test_the_database_refuses_changing_the_record(app, people, statement):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    edit(app, people, public_id, goal=NEW_GOAL)
    with app.app_context():
        before = [(r.id, r.changes) for r in revisions()]
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
        assert [(r.id, r.changes) for r in revisions()] == before and len(before) == 1


def test_postgresql_refuses_truncate(app, people, backend):
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with app.app_context():
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("TRUNCATE campaign_revisions"))
        db.session.rollback()


# ---- pages ----

@pytest.mark.parametrize(("language", "old", "new", "count_text", "link_text"), [
    ("id", "Rp 25.000.000", "Rp 30.000.000", "Diubah 2 kali sejak diterbitkan", "lihat perubahannya"),
    ("en", "IDR 25,000,000", "IDR 30,000,000", "Edited 2 times since publication", "see the changes"),
])
def test_the_changes_page_shows_before_and_after(app, people, language, old, new, count_text, link_text):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    edit(app, people, public_id, goal=NEW_GOAL)
    edit(app, people, public_id, goal=NEW_GOAL, city="Kota Yogyakarta", region="34",
         story=OLD_STORY + "\n\n<script>alert('x')</script>")
    visitor = client_for(app, None, language)
    page = visitor.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
    assert count_text in page
    assert f'<a href="/campaigns/{public_id}/changes">{link_text}</a>' in page
    response = visitor.get(f"/campaigns/{public_id}/changes")
    assert response.status_code == 200
    changes = response.get_data(as_text=True)
    assert f"<td class=\"preserve-lines\">{old}</td><td class=\"preserve-lines\">{new}</td>" in changes
    assert "Kabupaten Sleman" in changes and "Kota Yogyakarta" in changes
    assert "<script>alert" not in changes
    assert "+&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in changes
    # Newest first: the story's edit comes before the first goal edit.
    assert changes.index("story-diff") < changes.rindex(new)
    assert changes.count('<article class="revision"') == 2


def test_the_campaign_page_says_nothing_before_any_edit(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    visitor = client_for(app, None, "en")
    page = visitor.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
    assert "since publication" not in page and "/changes" not in page
    changes = visitor.get(f"/campaigns/{public_id}/changes").get_data(as_text=True)
    assert "This campaign has not been edited since it was published." in changes


@pytest.mark.files
def test_a_cover_change_is_only_mentioned(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    edit(app, people, public_id, cover=image_bytes())
    changes = client_for(app, None, "en").get(f"/campaigns/{public_id}/changes").get_data(as_text=True)
    assert "The cover image changed." in changes and ".webp" not in changes


@pytest.mark.parametrize(("visitor", "expected"), [
    ("anonymous", 404), ("donor", 404), ("other_organizer", 404), ("owner", 200), ("admin", 200)])
def test_a_drafts_changes_are_hidden_from_strangers(app, people, visitor, expected):
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    client = client_for(app, people[visitor], "en")
    assert client.get(f"/campaigns/{public_id}/changes").status_code == expected


def test_unknown_campaigns_are_404(app):
    assert client_for(app, None, "en").get("/campaigns/aaaaaaaaaaaa/changes").status_code == 404


def test_changes_is_not_a_slug(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"], title="Changes")
    with app.app_context():
        assert campaign_of(public_id).slug == "changes-kampanye"


# ---- migration ----

def test_the_migration_undoes_itself(empty_database_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    from tests.conftest import make_app

    app = make_app(empty_database_url, tmp_path / "i")
    with app.app_context():
        upgrade()
        assert "campaign_revisions" in sa.inspect(db.engine).get_table_names()
        downgrade(revision="3f9a2c7d4e18")
        assert "campaign_revisions" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        assert "campaign_revisions" in sa.inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()
