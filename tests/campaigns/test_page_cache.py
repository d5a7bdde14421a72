"""The campaign list and page, once rendered for an anonymous visitor, are served to others for a
few seconds without a query; money and the campaigns' edits show within the site version's
lifetime (VERSION_SECONDS); signed-in visitors never share."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns import page_cache, services
from tests.factories.campaigns import campaign_input, client_for, make_campaign, make_people, user
from tests.factories.treasury import RP, fund


@pytest.fixture
def cached_app(app, monkeypatch):
    app.config["CAMPAIGN_PAGE_CACHE_SECONDS"] = 60
    monkeypatch.setattr(page_cache, "VERSION_SECONDS", 0)  # re-read the site's version every time
    return app


@pytest.fixture
def renders(monkeypatch):
    """How many times the campaign page and list were rendered rather than served from the cache."""
    from campaigns import views
    count = []
    real = views.render_template

    def counting(template, **context):
        if template in ("campaigns/show.html", "campaigns/index.html"):
            count.append(template)
        return real(template, **context)
    monkeypatch.setattr(views, "render_template", counting)
    return count


def test_anonymous_pages_are_rendered_once_and_money_and_edits_show_at_once(cached_app, renders):
    app = cached_app
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    visitor = client_for(app, None, "en")
    url = visitor.get(f"/campaigns/{public_id}").location
    first = visitor.get(url).get_data(as_text=True)
    again = client_for(app, None, "en").get(url).get_data(as_text=True)
    assert again == first and len(renders) == 1  # the second visitor got the first one's page
    client_for(app, None, "id").get(url)
    assert len(renders) == 2  # each language its own
    assert visitor.get(f"/campaigns/{public_id}").status_code == 301  # redirects are never kept

    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        fund(campaign, 250_000 * RP)
    assert "250,000" in visitor.get(url).get_data(as_text=True)  # money shows
    with app.app_context():
        services.update_campaign(services.get_by_public_id(public_id), user(people["owner"]),
                                 campaign_input(people["treasurer"], title="Posyandu Melati, judul baru"))
        db.session.commit()
    url = visitor.get(f"/campaigns/{public_id}").location
    assert "judul baru" in visitor.get(url).get_data(as_text=True)  # so does an edit

    count = len(renders)
    owner = client_for(app, people["owner"], "en")
    owner.get(url)
    owner.get(url)
    assert len(renders) == count + 2  # a signed-in page is never shared


def test_the_list_shows_new_money(cached_app):
    app = cached_app
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    visitor = client_for(app, None, "en")
    before = visitor.get("/campaigns/").get_data(as_text=True)
    with app.app_context():
        fund(services.get_by_public_id(public_id), 250_000 * RP)
    after = visitor.get("/campaigns/").get_data(as_text=True)
    assert after != before and "250,000" in after


def test_a_kept_page_costs_no_query_while_the_site_version_is_fresh(cached_app, renders, monkeypatch):
    app = cached_app
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    visitor = client_for(app, None, "en")
    url = visitor.get(f"/campaigns/{public_id}").location
    visitor.get(url)
    visitor.get("/campaigns/")
    monkeypatch.setattr(page_cache, "VERSION_SECONDS", 3600)
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            assert visitor.get(url).status_code == 200
            assert visitor.get("/campaigns/").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert [s for s in statements if "SAVEPOINT" not in s] == []
    assert len(renders) == 2


def test_error_answers_are_never_kept(cached_app):
    visitor = client_for(cached_app, None, "en")
    assert visitor.get("/campaigns/?category=nope").status_code == 400
    assert visitor.get("/campaigns/zzzzzzzz").status_code == 404
    assert visitor.get("/campaigns/?category=nope").status_code == 400


def test_a_new_update_shows_on_a_kept_page(cached_app):
    app = cached_app
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    visitor = client_for(app, None, "en")
    url = visitor.get(f"/campaigns/{public_id}").location
    assert "Timbangan baru sudah tiba" not in visitor.get(url).get_data(as_text=True)
    with app.app_context():
        services.post_update(services.get_by_public_id(public_id), user(people["owner"]),
                             "Timbangan baru sudah tiba", "Posyandu kini punya dua timbangan digital.")
        db.session.commit()
    assert "Timbangan baru sudah tiba" in visitor.get(url).get_data(as_text=True)
