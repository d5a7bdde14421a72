"""The state machine alone, and every transition as the services perform and record it."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from amanah.db import now_utc
from amanah.extensions import db
from campaigns import lifecycle, services
from campaigns.lifecycle import IllegalTransition, Status, Transition
from campaigns.models import Campaign, CampaignTransition
from tests.factories.campaigns import campaign_input, make_campaign, make_people, user

ALLOWED = {
    (Transition.SUBMIT, Status.DRAFT): Status.SUBMITTED,
    (Transition.SUBMIT, Status.REJECTED): Status.SUBMITTED,
    (Transition.PUBLISH, Status.SUBMITTED): Status.PUBLISHED,
    (Transition.REJECT, Status.SUBMITTED): Status.REJECTED,
    (Transition.CLOSE, Status.PUBLISHED): Status.CLOSED,
    (Transition.EXPIRE, Status.PUBLISHED): Status.CLOSED,
}


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("transition", list(Transition))
def test_every_transition_from_every_state(transition, current):
    if (transition, current) in ALLOWED:
        assert lifecycle.target_of(transition, current) == ALLOWED[(transition, current)]
    else:
        with pytest.raises(IllegalTransition, match=f"cannot {transition} a campaign that is {current}"):
            lifecycle.target_of(transition, current)


def test_unknown_transition_is_refused_by_name():
    with pytest.raises(IllegalTransition, match="cannot teleport"):
        lifecycle.target_of("teleport", Status.DRAFT)


def _history(campaign_id):
    return [(t.name, t.from_status, t.to_status, t.actor_id, t.reason) for t in db.session.scalars(
        sa.select(CampaignTransition).where(CampaignTransition.campaign_id == campaign_id)
        .order_by(CampaignTransition.id))]


def test_full_lifecycle_is_recorded_who_when_from_to_why(app):
    people = make_people(app)
    with app.app_context():
        owner, admin = user(people["owner"]), user(people["admin"])
        campaign = services.create_campaign(owner, campaign_input(people["treasurer"]))
        assert campaign.status == Status.DRAFT and len(campaign.public_id) == 12
        services.submit(campaign, owner)
        services.reject(campaign, admin, "Tambahkan rincian anggaran.")
        assert campaign.status == Status.REJECTED
        assert campaign.rejection_reason == "Tambahkan rincian anggaran."
        services.update_campaign(campaign, owner, campaign_input(people["treasurer"], story="Rincian " * 20))
        services.submit(campaign, owner)
        services.publish(campaign, admin)
        assert campaign.published_at is not None
        services.close(campaign, admin, "Dana sudah cukup.")
        db.session.commit()
        assert campaign.status == Status.CLOSED and campaign.closed_at is not None
        assert _history(campaign.id) == [
            ("create", None, "draft", owner.id, None),
            ("submit", "draft", "submitted", owner.id, None),
            ("reject", "submitted", "rejected", admin.id, "Tambahkan rincian anggaran."),
            ("submit", "rejected", "submitted", owner.id, None),
            ("publish", "submitted", "published", admin.id, None),
            ("close", "published", "closed", admin.id, "Dana sudah cukup."),
        ]
        times = [t.at for t in campaign.transitions]
        assert all(t.tzinfo is not None and t.utcoffset() == dt.timedelta(0) for t in times)
        assert times == sorted(times)


@pytest.mark.parametrize(("status", "action"), [
    ("draft", "publish"), ("draft", "reject"), ("draft", "close"),
    ("submitted", "submit"), ("submitted", "close"),
    ("published", "submit"), ("published", "publish"), ("published", "reject"),
    ("closed", "submit"), ("closed", "publish"), ("closed", "close"),
    ("rejected", "publish"), ("rejected", "close"),
])
def test_services_refuse_illegal_transitions_and_record_nothing(app, status, action):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status=status)
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        before = _history(campaign.id)
        owner, admin = user(people["owner"]), user(people["admin"])
        with pytest.raises(IllegalTransition, match=f"cannot {action} a campaign that is {status}"):
            {"submit": lambda: services.submit(campaign, owner),
             "publish": lambda: services.publish(campaign, admin),
             "reject": lambda: services.reject(campaign, admin, "alasan"),
             "close": lambda: services.close(campaign, admin)}[action]()
        db.session.rollback()
        assert services.get_by_public_id(public_id).status == status
        assert _history(campaign.id) == before


def test_rejecting_needs_a_reason(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="submitted")
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        with pytest.raises(services.ValidationError) as excinfo:
            services.reject(campaign, user(people["admin"]), "   ")
        assert set(excinfo.value.errors) == {"reason"}
        assert campaign.status == Status.SUBMITTED


def test_who_may_move_a_campaign(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        for name in ("other_organizer", "admin", "treasurer"):
            with pytest.raises(services.PermissionDenied):
                services.submit(campaign, user(people[name]))
        services.submit(campaign, user(people["owner"]))
        for name in ("owner", "other_organizer", "auditor", "treasurer"):
            with pytest.raises(services.PermissionDenied):
                services.publish(campaign, user(people[name]))
        services.publish(campaign, user(people["admin"]))
        with pytest.raises(services.PermissionDenied):
            services.close(campaign, user(people["other_organizer"]))


def test_an_admin_never_reviews_their_own_campaign(app):
    people = make_people(app)
    with app.app_context():
        from tests.factories import make_user
        organizer_admin = make_user(None, "organizer", "admin")
        campaign = services.create_campaign(organizer_admin, campaign_input(people["treasurer"]))
        services.submit(campaign, organizer_admin)
        with pytest.raises(services.PermissionDenied):
            services.publish(campaign, organizer_admin)
        services.publish(campaign, user(people["admin"]))


def test_a_stale_transition_loses_to_the_one_that_happened_first(app):
    """Two admins decide at once: the second finds the campaign no longer submitted."""
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="submitted")
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id).values(
            status="published", published_at=now_utc()).execution_options(synchronize_session=False))
        assert campaign.status == "submitted"  # this session still believes it is under review
        with pytest.raises(IllegalTransition, match="cannot reject a campaign that is published"):
            services.reject(campaign, user(people["admin"]), "terlambat")


def test_deadline_passed_closes_lazily_on_read_and_by_command(app, runner):
    people = make_people(app)
    first = make_campaign(app, people["owner"], people["treasurer"], status="published",
                          deadline=services.today_wib() + dt.timedelta(days=2))
    second = make_campaign(app, people["owner"], people["treasurer"], status="published",
                           title="Taman baca anak nelayan")
    with app.app_context():
        for public_id in (first, second):
            db.session.execute(sa.update(Campaign).where(Campaign.public_id == public_id).values(
                deadline=services.today_wib() - dt.timedelta(days=1)))
        db.session.commit()
    # Reading the page closes it, as the system.
    response = app.test_client().get(f"/campaigns/{first}", follow_redirects=True)
    assert response.status_code == 200
    with app.app_context():
        campaign = services.get_by_public_id(first)
        assert campaign.status == "closed"
        assert _history(campaign.id)[-1] == ("expire", "published", "closed", None, None)
        assert services.get_by_public_id(second).status == "published"
    result = runner.invoke(args=["campaigns", "close-expired"])
    assert result.exit_code == 0, result.output
    assert "1 campaign(s) closed." in result.output and second in result.output
    with app.app_context():
        assert services.get_by_public_id(second).status == "closed"
    assert "0 campaign(s) closed." in runner.invoke(args=["campaigns", "close-expired"]).output


def test_a_campaign_ending_today_is_still_open(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="published")
    with app.app_context():
        db.session.execute(sa.update(Campaign).where(Campaign.public_id == public_id).values(
            deadline=services.today_wib()))
        db.session.commit()
        assert services.close_expired() == []
        assert services.days_left(services.get_by_public_id(public_id)) == 0
