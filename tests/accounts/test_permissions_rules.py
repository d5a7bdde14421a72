"""can() asked directly: every Action against every kind of person, in one table.

The objects are built in memory and never added to a session: a rule that tried to query would
find no database behind them, which is the promise that templates may ask can() freely.
"""
from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin

from accounts.models import User, UserRole
from accounts.permissions import RULES, Action, can
from campaigns.models import Campaign
from donations.models import Donation
from organizations.models import Organization, OrganizationMember
from treasury.models import Disbursement

ORGANIZER, OTHER_ORGANIZER, TREASURER, OTHER_TREASURER = 10, 11, 20, 21
DONOR, OTHER_DONOR, AUDITOR, ADMIN, DEACTIVATED = 30, 31, 40, 50, 60

IDENTITIES = ("anonymous", "donor", "other donor", "organizer", "other organizer", "treasurer",
              "other treasurer", "auditor", "admin", "deactivated")
SIGNED_IN = frozenset(IDENTITIES) - {"anonymous", "deactivated"}
EVERYONE = frozenset(IDENTITIES)
PRIVATE = {"organizer", "treasurer", "admin"}  # who sees a campaign that is not public
WATCHERS = {"treasurer", "auditor", "admin"}  # who sees a campaign's report and withheld evidence


def _user(user_id: int, *roles: str, active: bool = True) -> User:
    user = User(id=user_id, email=f"u{user_id}@example.test", display_name=f"User {user_id}",
                password_hash="!unusable", active=active)
    user.roles = [UserRole(role=role) for role in roles]
    return user


def people() -> dict[str, User | None]:
    """"treasurer" is this campaign's treasurer, "other treasurer" another campaign's; the
    deactivated user holds every role and is this campaign's organizer, treasurer and donor."""
    return {
        "anonymous": None,
        "donor": _user(DONOR),
        "other donor": _user(OTHER_DONOR),
        "organizer": _user(ORGANIZER, "organizer"),
        "other organizer": _user(OTHER_ORGANIZER, "organizer"),
        "treasurer": _user(TREASURER, "treasurer"),
        "other treasurer": _user(OTHER_TREASURER, "treasurer"),
        "auditor": _user(AUDITOR, "auditor"),
        "admin": _user(ADMIN, "admin"),
        "deactivated": _user(DEACTIVATED, "organizer", "treasurer", "auditor", "admin", active=False),
    }


def campaign(status: str = "published", organizer_id: int = ORGANIZER,
             treasurer_id: int = TREASURER) -> Campaign:
    return Campaign(organizer_id=organizer_id, treasurer_id=treasurer_id, status=status)


def organization() -> Organization:
    """"organizer" organizes for it, "treasurer" is its treasurer."""
    return Organization(members=[OrganizationMember(user_id=ORGANIZER, role="organizer"),
                                 OrganizationMember(user_id=TREASURER, role="treasurer")])


def donation(donor_id: int | None = DONOR, status: str = "published") -> Donation:
    return Donation(user_id=donor_id, campaign=campaign(status))


def disbursement(evidence_public: bool = True) -> Disbursement:
    return Disbursement(campaign=campaign(), evidence_public=evidence_public)


# (case id, action, a builder of the object or None, who may)
TABLE = [
    ("manage-users", Action.MANAGE_USERS, None, {"admin"}),
    ("role-changes", Action.VIEW_ROLE_CHANGES, None, {"admin", "auditor"}),
    ("reconciliation", Action.VIEW_RECONCILIATION, None, {"admin", "auditor"}),
    ("report", Action.POST_PROGRESS_REPORT, campaign, {"organizer", "treasurer", "admin"}),
    ("report-draft", Action.POST_PROGRESS_REPORT, lambda: campaign("draft"), set()),
    ("organization-create", Action.CREATE_ORGANIZATION, None, {"organizer", "other organizer", "admin"}),
    ("organization-manage", Action.MANAGE_ORGANIZATION, organization, {"organizer", "admin"}),
    ("organization-verify", Action.VERIFY_ORGANIZATION, organization, {"admin"}),
    ("service-points", Action.MANAGE_SERVICE_POINTS, organization, {"organizer", "admin"}),
    ("view-published", Action.VIEW_CAMPAIGN, campaign, EVERYONE),
    ("view-closed", Action.VIEW_CAMPAIGN, lambda: campaign("closed"), EVERYONE),
    ("view-draft", Action.VIEW_CAMPAIGN, lambda: campaign("draft"), PRIVATE),
    ("view-submitted", Action.VIEW_CAMPAIGN, lambda: campaign("submitted"), PRIVATE),
    ("create", Action.CREATE_CAMPAIGN, None, {"organizer", "other organizer"}),
    ("edit-draft", Action.EDIT_CAMPAIGN, lambda: campaign("draft"), {"organizer"}),
    ("edit-rejected", Action.EDIT_CAMPAIGN, lambda: campaign("rejected"), {"organizer"}),
    ("edit-published", Action.EDIT_CAMPAIGN, campaign, {"organizer"}),
    ("edit-submitted", Action.EDIT_CAMPAIGN, lambda: campaign("submitted"), set()),
    ("edit-closed", Action.EDIT_CAMPAIGN, lambda: campaign("closed"), set()),
    ("submit", Action.SUBMIT_CAMPAIGN, lambda: campaign("draft"), {"organizer"}),
    ("review-pages", Action.REVIEW_CAMPAIGN, None, {"admin"}),
    ("review", Action.REVIEW_CAMPAIGN, lambda: campaign("submitted"), {"admin"}),
    ("close", Action.CLOSE_CAMPAIGN, campaign, {"organizer", "admin"}),
    ("post-update-published", Action.POST_CAMPAIGN_UPDATE, campaign, {"organizer"}),
    ("post-update-closed", Action.POST_CAMPAIGN_UPDATE, lambda: campaign("closed"), {"organizer"}),
    ("post-update-draft", Action.POST_CAMPAIGN_UPDATE, lambda: campaign("draft"), set()),
    ("history", Action.VIEW_CAMPAIGN_HISTORY, lambda: campaign("draft"), {"admin"}),
    ("change-treasurer-published", Action.CHANGE_TREASURER, campaign, {"admin"}),
    ("change-treasurer-draft", Action.CHANGE_TREASURER, lambda: campaign("draft"), set()),
    ("refund", Action.REFUND_DONATION, donation, {"treasurer", "admin"}),
    ("document", Action.VIEW_DONATION_DOCUMENT, donation, {"donor", "treasurer", "admin"}),
    ("document-of-a-guest", Action.VIEW_DONATION_DOCUMENT, lambda: donation(None), {"treasurer", "admin"}),
    ("statement", Action.DOWNLOAD_STATEMENT, None, SIGNED_IN),
    ("report", Action.VIEW_CAMPAIGN_REPORT, campaign, WATCHERS),
    ("bulk", Action.BULK_DOWNLOAD, campaign, {"treasurer", "admin"}),
    ("treasury", Action.VIEW_TREASURY, None, {"treasurer", "other treasurer", "admin"}),
    ("record-published", Action.RECORD_DISBURSEMENT, campaign, {"treasurer", "admin"}),
    ("record-closed", Action.RECORD_DISBURSEMENT, lambda: campaign("closed"), {"treasurer", "admin"}),
    ("record-draft", Action.RECORD_DISBURSEMENT, lambda: campaign("draft"), set()),
    ("reverse", Action.REVERSE_DISBURSEMENT, disbursement, {"treasurer", "admin"}),
    ("withheld-evidence", Action.VIEW_WITHHELD_EVIDENCE, campaign, WATCHERS),
    ("evidence-public", Action.VIEW_EVIDENCE, disbursement, EVERYONE),
    ("evidence-withheld", Action.VIEW_EVIDENCE, lambda: disbursement(False), WATCHERS),
]
CASES = [pytest.param(action, build, who, expected_who, id=f"{case} as {who}")
         for case, action, build, expected_who in TABLE for who in IDENTITIES]


@pytest.mark.parametrize(("action", "build", "who", "allowed"), CASES)
def test_can(action, build, who, allowed):
    obj = build() if build is not None else None
    assert can(people()[who], action, obj) is (who in allowed)


def test_every_action_has_a_rule_and_a_row_in_the_table():
    assert set(RULES) == set(Action)
    assert {row[1] for row in TABLE} == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_the_anonymous_user_object_and_none_are_the_same_nobody(action):
    objects = {None: None, "campaign": campaign(), "donation": donation(), "disbursement": disbursement()}
    for obj in objects.values():
        try:
            expected = can(None, action, obj)
        except AttributeError:
            continue  # not this action's kind of object
        assert can(AnonymousUserMixin(), action, obj) is expected


def test_actions_may_be_named_by_their_string_and_an_unknown_name_fails_loudly():
    admin = people()["admin"]
    assert can(admin, "manage_users") is True
    with pytest.raises(ValueError, match="manage_user"):
        can(admin, "manage_user")


def test_an_admin_never_reviews_nor_hands_over_their_own_campaign():
    organizer_admin = _user(70, "organizer", "admin")
    own, others = campaign("submitted", organizer_id=70), campaign("submitted")
    assert not can(organizer_admin, Action.REVIEW_CAMPAIGN, own)
    assert can(organizer_admin, Action.REVIEW_CAMPAIGN, others)
    assert can(organizer_admin, Action.REVIEW_CAMPAIGN)  # the review pages themselves
    assert not can(organizer_admin, Action.CHANGE_TREASURER, campaign(organizer_id=70))
    assert can(organizer_admin, Action.CHANGE_TREASURER, campaign())
    assert can(organizer_admin, Action.EDIT_CAMPAIGN, campaign("draft", organizer_id=70))


def test_losing_a_role_ends_what_it_allowed_on_ones_own_campaign():
    """The named organizer or treasurer without the role acts no more; an organizer still sees
    their own private campaign (it is theirs), a treasurer without the role does not."""
    former_organizer, former_treasurer = _user(ORGANIZER), _user(TREASURER)
    draft, published = campaign("draft"), campaign()
    for action in (Action.EDIT_CAMPAIGN, Action.SUBMIT_CAMPAIGN, Action.CLOSE_CAMPAIGN):
        assert not can(former_organizer, action, draft)
    assert not can(former_organizer, Action.POST_CAMPAIGN_UPDATE, published)
    assert can(former_organizer, Action.VIEW_CAMPAIGN, draft)
    assert not can(former_treasurer, Action.VIEW_CAMPAIGN, draft)
    for action in (Action.RECORD_DISBURSEMENT, Action.BULK_DOWNLOAD, Action.VIEW_CAMPAIGN_REPORT,
                   Action.VIEW_WITHHELD_EVIDENCE):
        assert not can(former_treasurer, action, published)
    assert not can(former_treasurer, Action.REFUND_DONATION, donation())
    assert not can(former_treasurer, Action.VIEW_DONATION_DOCUMENT, donation())


def test_a_deactivated_user_is_nobody_even_on_their_own_donation():
    gone = _user(DONOR, active=False)
    assert not can(gone, Action.VIEW_DONATION_DOCUMENT, donation())
    assert not can(gone, Action.DOWNLOAD_STATEMENT)
    assert can(gone, Action.VIEW_CAMPAIGN, campaign())  # what is public stays public
