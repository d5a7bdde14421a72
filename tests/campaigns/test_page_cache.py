"""The campaign list and page, once rendered for an anonymous visitor, are served to others for a
few seconds; money and the campaign's own edits show at once; signed-in visitors never share."""
from __future__ import annotations

import pytest

from amanah.extensions import db
from campaigns import page_cache, services
from tests.factories.campaigns import campaign_input, client_for, make_campaign, make_people, user
from tests.factories.treasury import RP, fund


@pytest.fixture
def cached_app(app):
    app.config["CAMPAIGN_PAGE_CACHE_SECONDS"] = 60
    return app


def test_anonymous_pages_are_rendered_once_and_money_and_edits_show_at_once(cached_app, monkeypatch):
    app = cached_app
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    renders = []
    real = page_cache.cached

    def counting(version, render):
        return real(version, lambda: renders.append(1) or render())
    monkeypatch.setattr(page_cache, "cached", counting)
    visitor = client_for(app, None, "en")
    url = visitor.get(f"/campaigns/{public_id}").location
    first = visitor.get(url).get_data(as_text=True)
    again = client_for(app, None, "en").get(url).get_data(as_text=True)
    assert again == first and len(renders) == 1  # the second visitor got the first one's page
    client_for(app, None, "id").get(url)
    assert len(renders) == 2  # each language its own

    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        fund(campaign, 250_000 * RP)
    assert "250,000" in visitor.get(url).get_data(as_text=True)  # money shows at once
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


def test_the_list_shows_new_money_at_once(cached_app):
    app = cached_app
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    visitor = client_for(app, None, "en")
    before = visitor.get("/campaigns/").get_data(as_text=True)
    with app.app_context():
        fund(services.get_by_public_id(public_id), 250_000 * RP)
    after = visitor.get("/campaigns/").get_data(as_text=True)
    assert after != before and "250,000" in after
