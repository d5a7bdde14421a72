"""Every campaign route against every kind of visitor, in one table.

Private things (drafts, campaigns under review, the review pages) answer 404 to whoever may not
see them, so that their existence does not leak; pages that need a sign-in send anonymous visitors
to the login page; signed-in visitors who may see a campaign but not change it get 403.
"""
from __future__ import annotations

import pytest

from accounts.permissions import Action, can
from tests.conftest import World
from tests.factories.campaigns import VISITORS, client_for, make_campaign, make_people, user

LOGIN = "login"
ALL_OK = {"*": 200}
PRIVATE_EDIT = {"owner": 200, "treasurer": 403, "admin": 403, "*": 404}
PRIVATE_REFUSED = {"owner": 403, "treasurer": 403, "admin": 403, "*": 404}
PRIVATE_VIEW = {"owner": 200, "treasurer": 200, "admin": 200, "*": 404}
ORGANIZERS_ONLY = {"anonymous": LOGIN, "owner": 200, "other_organizer": 200, "*": 403}
ADMIN_ONLY = {"admin": 200, "*": 404}

# (case id, method, path with {draft}/{submitted}/{published} placeholders, expected per visitor)
ROUTES = [
    ("browse", "GET", "/campaigns/", ALL_OK),
    ("browse-filtered", "GET", "/campaigns/?category=health&region=34&status=published&sort=funded&q=balita",
     ALL_OK),
    ("show-published", "GET", "/campaigns/{published}/{slug}", ALL_OK),
    ("show-published-no-slug", "GET", "/campaigns/{published}", {"*": 301}),
    ("show-published-old-slug", "GET", "/campaigns/{published}/an-old-title", {"*": 301}),
    ("show-draft", "GET", "/campaigns/{draft}/{slug}", PRIVATE_VIEW),
    ("show-submitted", "GET", "/campaigns/{submitted}/{slug}", PRIVATE_VIEW),
    ("show-rejected", "GET", "/campaigns/{rejected}/{slug}", PRIVATE_VIEW),
    ("show-unknown", "GET", "/campaigns/aaaaaaaaaaaa/x", {"*": 404}),
    ("show-malformed-id", "GET", "/campaigns/NOT-AN-ID/x", {"*": 404}),
    ("new", "GET", "/campaigns/new", ORGANIZERS_ONLY),
    ("mine", "GET", "/campaigns/mine", ORGANIZERS_ONLY),
    ("edit-draft", "GET", "/campaigns/{draft}/edit", PRIVATE_EDIT),
    ("edit-rejected", "GET", "/campaigns/{rejected}/edit", PRIVATE_EDIT),
    ("edit-submitted", "GET", "/campaigns/{submitted}/edit", PRIVATE_REFUSED),
    ("edit-published", "GET", "/campaigns/{published}/edit", {"anonymous": LOGIN, "owner": 200, "*": 403}),
    ("submit-draft", "POST", "/campaigns/{draft}/submit",
     {"owner": 303, "treasurer": 403, "admin": 403, "*": 404}),
    ("close-published", "POST", "/campaigns/{published}/close",
     {"anonymous": LOGIN, "owner": 303, "admin": 303, "*": 403}),
    ("close-draft", "POST", "/campaigns/{draft}/close", PRIVATE_REFUSED),
    ("review-queue", "GET", "/campaigns/review/", ADMIN_ONLY),
    ("review-submitted", "GET", "/campaigns/{submitted}/review", ADMIN_ONLY),
    ("review-draft", "GET", "/campaigns/{draft}/review", ADMIN_ONLY),
    ("publish", "POST", "/campaigns/{submitted}/review?decision=publish", {"admin": 303, "*": 404}),
    ("update-form-published", "GET", "/campaigns/{published}/updates/new",
     {"anonymous": LOGIN, "owner": 200, "*": 403}),
    ("update-form-draft", "GET", "/campaigns/{draft}/updates/new", PRIVATE_REFUSED),
    ("feed-published", "GET", "/campaigns/{published}/updates.atom", ALL_OK),
    ("feed-draft", "GET", "/campaigns/{draft}/updates.atom", {"*": 404}),
    ("api-list", "GET", "/api/v1/campaigns", ALL_OK),
    ("api-published", "GET", "/api/v1/campaigns/{published}", ALL_OK),
    ("api-draft", "GET", "/api/v1/campaigns/{draft}", {"*": 404}),
    ("api-submitted", "GET", "/api/v1/campaigns/{submitted}", {"*": 404}),
    ("api-unknown", "GET", "/api/v1/campaigns/aaaaaaaaaaaa", {"*": 404}),
]

# The routes whose answer is exactly one can(): (method, path) -> (action, the campaign's status or
# None for no object). Each visitor the route lets in (200, 303) is one that can() allows, and the
# other way round; the rest of the table covers what can() does not decide (slugs, the lifecycle).
ACTIONS = {
    ("GET", "/campaigns/{published}/{slug}"): (Action.VIEW_CAMPAIGN, "published"),
    ("GET", "/campaigns/{draft}/{slug}"): (Action.VIEW_CAMPAIGN, "draft"),
    ("GET", "/campaigns/{submitted}/{slug}"): (Action.VIEW_CAMPAIGN, "submitted"),
    ("GET", "/campaigns/{rejected}/{slug}"): (Action.VIEW_CAMPAIGN, "rejected"),
    ("GET", "/campaigns/new"): (Action.CREATE_CAMPAIGN, None),
    ("GET", "/campaigns/mine"): (Action.CREATE_CAMPAIGN, None),
    ("GET", "/campaigns/{draft}/edit"): (Action.EDIT_CAMPAIGN, "draft"),
    ("GET", "/campaigns/{rejected}/edit"): (Action.EDIT_CAMPAIGN, "rejected"),
    ("GET", "/campaigns/{submitted}/edit"): (Action.EDIT_CAMPAIGN, "submitted"),
    ("GET", "/campaigns/{published}/edit"): (Action.EDIT_CAMPAIGN, "published"),
    ("POST", "/campaigns/{draft}/submit"): (Action.SUBMIT_CAMPAIGN, "draft"),
    ("POST", "/campaigns/{published}/close"): (Action.CLOSE_CAMPAIGN, "published"),
    ("GET", "/campaigns/review/"): (Action.REVIEW_CAMPAIGN, None),
    ("GET", "/campaigns/{submitted}/review"): (Action.REVIEW_CAMPAIGN, "submitted"),
    ("POST", "/campaigns/{submitted}/review?decision=publish"): (Action.REVIEW_CAMPAIGN, "submitted"),
    ("GET", "/campaigns/{published}/updates/new"): (Action.POST_CAMPAIGN_UPDATE, "published"),
    ("GET", "/campaigns/{draft}/updates/new"): (Action.POST_CAMPAIGN_UPDATE, "draft"),
}


def _build_world(app) -> tuple[dict, dict]:
    """Seven people and a campaign in each status, built once for the module's 225 cases."""
    people = make_people(app)
    ids = {status: make_campaign(app, people["owner"], people["treasurer"], status=status,
                                 admin_id=people["admin"])
           for status in ("draft", "submitted", "published", "rejected")}
    return people, ids


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory):
    yield from World.serve(databases, tmp_path_factory, _build_world)


@pytest.fixture
def app(world):
    """The world's app; what a case changes is rolled back before the next."""
    with world.shared.test() as app:
        yield app


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize(("method", "path", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in ROUTES])
def test_route_answers_each_kind_of_visitor(app, world, visitor, method, path, expected):
    people, ids = world.data
    url = path.format(slug="posyandu-melati-untuk-balita-dusun-krapyak", **ids)
    data = {}
    if "?decision=" in url:
        url, decision = url.split("?decision=")
        data = {"decision": decision}
    client = client_for(app, people[visitor])
    response = client.open(url, method=method, data=data)
    want = expected.get(visitor, expected["*"])
    if want == LOGIN:
        assert response.status_code == 302, response.status_code
        assert response.headers["Location"].startswith("/account/login")
    else:
        assert response.status_code == want, (visitor, url, response.status_code)
    if response.status_code == 404:
        body = response.get_data(as_text=True)
        assert "Posyandu Melati" not in body  # nothing of a private campaign leaks
    if (method, path) in ACTIONS:
        action, status = ACTIONS[(method, path)]
        with app.app_context():
            from campaigns import services
            campaign = services.get_by_public_id(ids[status]) if status else None
            assert can(user(people[visitor]), action, campaign) == (want in (200, 303)), (visitor, action)


def test_an_organizer_whose_role_was_revoked_can_no_longer_act_on_their_campaigns(app):
    """Revoking the organizer role takes effect at once, as revoking the treasurer role does: the
    former organizer may not edit, submit, close or post updates any more."""
    from accounts import services as accounts
    from amanah.extensions import db
    from tests.factories.campaigns import user
    people = make_people(app)
    draft = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    published = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    with app.app_context():
        accounts.revoke_role(user(people["owner"]), "organizer", revoked_by=user(people["admin"]))
        db.session.commit()
    client = client_for(app, people["owner"])
    assert client.get(f"/campaigns/{draft}/edit").status_code == 403
    assert client.post(f"/campaigns/{draft}/edit", data={"title": "Diubah"}).status_code == 403
    assert client.post(f"/campaigns/{draft}/submit").status_code == 403
    assert client.get(f"/campaigns/{published}/updates/new").status_code == 403
    assert client.post(f"/campaigns/{published}/updates/new",
                       data={"title": "Kabar", "body": "Isi kabar terbaru."}).status_code == 403
    assert client.post(f"/campaigns/{published}/close", data={"reason": "x"}).status_code == 403
    page = client.get(f"/campaigns/{published}/posyandu-melati-untuk-balita-dusun-krapyak")
    assert page.status_code == 200
    assert f"/campaigns/{published}/updates/new" not in page.get_data(as_text=True)
    with app.app_context():
        from campaigns import services
        campaign = services.get_by_public_id(published)
        assert campaign.status == "published" and not campaign.updates
