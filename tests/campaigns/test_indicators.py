"""Outcome indicators: typed values, baseline and target rules, history after publication, pages."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah.errors import UserError, ValidationError
from amanah.extensions import db
from campaigns import indicators
from campaigns.models import Campaign, CampaignIndicator, CampaignRevision
from campaigns.services import today_wib
from tests.factories.campaigns import client_for, make_campaign, make_people


def wells(**changes) -> indicators.IndicatorInput:
    values = dict(name="Sumur bor dibangun", unit="sumur", kind="count", direction="increase",
                  baseline="0", target="4", due=today_wib() + dt.timedelta(days=120))
    return indicators.IndicatorInput(**{**values, **changes})


@pytest.mark.parametrize(("text", "kind", "locale", "hundredths"), [
    ("84", "count", "id", 8400), ("1.250", "count", "id", 125_000), ("1,250", "count", "en", 125_000),
    ("72,5", "percent", "id", 7250), ("72.5", "percent", "en", 7250), ("0", "measure", "id", 0),
    ("12,75", "measure", "id", 1275),
])
def test_values_are_read_as_people_write_them_and_kept_in_hundredths(app, text, kind, locale, hundredths):
    with app.test_request_context():
        assert indicators.parse_value(text, kind, locale) == hundredths


@pytest.mark.parametrize(("text", "kind"), [
    ("2,5", "count"), ("101", "percent"), ("-3", "measure"), ("lima", "count"), ("", "count"),
    ("1,234", "measure"),  # three decimals in Indonesian
    # Babel reads these as Decimals that compare with nothing.
    ("NaN", "count"), ("Infinity", "measure"), ("-Infinity", "percent"), ("sNaN", "measure"),
])
def test_values_of_the_wrong_kind_are_refused(app, text, kind):
    with app.test_request_context(), pytest.raises(UserError):
        indicators.parse_value(text, kind, "id")


def test_values_are_shown_in_the_readers_language_with_their_unit(app):
    with app.test_request_context():
        assert indicators.format_value(125_000, "count", "balita", "id") == "1.250 balita"
        assert indicators.format_value(7250, "percent", "", "id") == "72,5%"
        assert indicators.format_value(7250, "percent", "", "en") == "72.5%"
        assert indicators.format_value(123_456, "measure", "km", "en") == "1,234.56 km"


@pytest.fixture
def setup(app):
    people = make_people(app)
    draft = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    public = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"],
                           title="Sumur bor untuk Desa Oelbubuk")
    return people, draft, public


def _campaign(public_id: str) -> Campaign:
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))


@pytest.mark.parametrize(("changes", "field"), [
    ({"direction": "increase", "baseline": "10", "target": "10"}, "target"),
    ({"direction": "increase", "baseline": "10", "target": "5"}, "target"),
    ({"direction": "decrease", "baseline": "20", "target": "30"}, "target"),
    ({"kind": "percent", "target": "150"}, "target"),
    ({"kind": "count", "baseline": "1,5"}, "baseline"),
    ({"name": " "}, "name"), ({"unit": ""}, "unit"), ({"kind": "ratio"}, "kind"),
    ({"direction": "up"}, "direction"), ({"due": None}, "due"),
])
def test_bad_indicators_name_the_field_and_add_nothing(app, setup, changes, field):
    people, draft, _ = setup
    with app.test_request_context():
        with pytest.raises(ValidationError) as caught:
            indicators.add_indicator(_campaign(draft), db.session.get(User, people["owner"]),
                                     wells(**changes))
        assert field in caught.value.errors
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignIndicator)) == 0


def test_a_target_date_in_the_past_is_refused(app, setup):
    people, draft, _ = setup
    with app.test_request_context(), pytest.raises(ValidationError) as caught:
        indicators.add_indicator(_campaign(draft), db.session.get(User, people["owner"]),
                                 wells(due=today_wib()))
    assert set(caught.value.errors) == {"due"}


def test_before_publication_indicators_come_and_go_without_a_record(app, setup):
    people, draft, _ = setup
    with app.test_request_context():
        owner, campaign = db.session.get(User, people["owner"]), _campaign(draft)
        indicator = indicators.add_indicator(campaign, owner, wells())
        indicators.remove_indicator(campaign, owner, indicator.id)
        db.session.commit()
        assert campaign.indicators == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignRevision)) == 0


def test_after_publication_they_are_only_added_and_each_addition_is_recorded(app, setup):
    people, _, public = setup
    with app.test_request_context():
        owner, campaign = db.session.get(User, people["owner"]), _campaign(public)
        first = indicators.add_indicator(campaign, owner, wells())
        indicators.add_indicator(campaign, owner, wells(name="Balita stunting", unit="balita",
                                                        direction="decrease", baseline="18", target="9"))
        db.session.commit()
        with pytest.raises(UserError):
            indicators.remove_indicator(campaign, owner, first.id)
        (latest, earlier) = campaign.revisions
        assert [i["name"] for i in earlier.changes["indicators"]["after"]] == ["Sumur bor dibangun"]
        assert earlier.changes["indicators"]["before"] == []
        assert len(latest.changes["indicators"]["after"]) == 2
    changes_page = client_for(app, None, "en").get(f"/campaigns/{public}/changes").get_data(as_text=True)
    assert "Outcome indicators" in changes_page
    assert "Balita stunting: from 18 balita to 9 balita" in changes_page


def test_only_the_organizer_declares_indicators(app, setup):
    people, draft, public = setup
    with app.test_request_context():
        for who in ("treasurer", "other_organizer", "admin", "donor"):
            with pytest.raises(UserError):
                indicators.add_indicator(_campaign(public), db.session.get(User, people[who]), wells())
    for who, expected in (("owner", 200), ("treasurer", 403), ("other_organizer", 403), ("admin", 403),
                          ("donor", 403)):
        response = client_for(app, people[who]).get(f"/campaigns/{public}/indicators")
        assert response.status_code == expected, who
    # A draft is not even visible to a stranger.
    assert client_for(app, people["other_organizer"]).get(f"/campaigns/{draft}/indicators").status_code == 404


def test_the_form_adds_one_and_the_campaign_page_shows_it_as_bar_and_table(app, setup):
    people, _, public = setup
    owner = client_for(app, people["owner"], "en")
    due = (today_wib() + dt.timedelta(days=90)).isoformat()
    bad = owner.post(f"/campaigns/{public}/indicators", data={
        "name": "Anak lancar membaca", "unit": "anak", "kind": "count", "direction": "increase",
        "baseline": "30", "target": "12", "due": due})
    assert bad.status_code == 422 and "the target must be above the baseline" in bad.get_data(as_text=True)
    good = owner.post(f"/campaigns/{public}/indicators", data={
        "name": "Anak lancar membaca", "unit": "anak", "kind": "count", "direction": "increase",
        "baseline": "12", "target": "1,030", "due": due})
    assert good.status_code == 303
    with app.app_context():
        (indicator,) = _campaign(public).indicators
        assert (indicator.baseline, indicator.target) == (1200, 103_000)
    page = client_for(app, None, "id").get(f"/campaigns/{public}", follow_redirects=True)
    page = page.get_data(as_text=True)
    assert "Anak lancar membaca" in page and "1.030 anak" in page and "<progress max=\"100\"" in page
    assert "<table class=\"indicator-table\">" in page


def test_writing_a_campaign_goes_on_to_its_indicators_and_the_reviewer_sees_them(app, setup):
    from campaigns import services as campaign_services
    from tests.factories.campaigns import _form
    people, draft, _public = setup
    owner = client_for(app, people["owner"], "en")
    created = owner.post("/campaigns/new", data=_form(people["treasurer"], goal="15,000,000"))
    assert created.status_code == 303 and created.location.endswith("/indicators")
    page = owner.get(created.location).get_data(as_text=True)
    assert "declare its outcome indicators" in page and "submit the campaign for review" in page
    # Until it has one, the draft's page asks for them; nobody else is asked.
    prompt = 'data-panel="declare-indicators"'
    assert prompt in owner.get(f"/campaigns/{draft}", follow_redirects=True).get_data(as_text=True)
    assert prompt not in client_for(app, people["admin"], "en").get(
        f"/campaigns/{draft}", follow_redirects=True).get_data(as_text=True)
    with app.test_request_context():
        indicators.add_indicator(_campaign(draft), db.session.get(User, people["owner"]), wells())
        db.session.commit()
    owner_page = owner.get(f"/campaigns/{draft}", follow_redirects=True).get_data(as_text=True)
    assert prompt not in owner_page and "Sumur bor dibangun" in owner_page
    with app.app_context():
        campaign_services.submit(_campaign(draft), db.session.get(User, people["owner"]))
        db.session.commit()
    review = client_for(app, people["admin"], "en").get(f"/campaigns/{draft}/review").get_data(as_text=True)
    assert "Outcome indicators" in review and "Sumur bor dibangun" in review and "4 sumur" in review
    assert "Its organizer, in person" in review


def test_a_value_that_is_no_number_is_a_form_error(app, setup):
    """"NaN" parses as a Decimal that no comparison accepts: it was a 500, it is a form error."""
    people, draft, _ = setup
    client = client_for(app, people["owner"], "en")
    response = client.post(f"/campaigns/{draft}/indicators", data={
        "name": "Balita ditimbang", "unit": "balita", "kind": "count", "direction": "increase",
        "baseline": "NaN", "target": "80", "due": (today_wib() + dt.timedelta(days=60)).isoformat()})
    assert response.status_code == 422
    assert "Write a number as usual in your language" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignIndicator)) == 0
