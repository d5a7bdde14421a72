"""Who may do what to which object: the one place every view, service, template and test asks.

    can(user, Action.REFUND_DONATION, donation)

Each Action has one rule, written once below. A rule answers "who" and, where the object's state
decides who (a draft holds no money, only a public campaign gets updates), that state too; whether
a transition is legal from the campaign's current status stays with `campaigns.lifecycle`.

Rules read only the object's own attributes and relations (`campaign.treasurer_id`,
`donation.campaign`, `disbursement.evidence_public`), never a query of their own, so this module
imports no package above `accounts` and templates may ask it freely. Anonymous visitors, None and
deactivated users are all "nobody signed in": they may see what is public and nothing else.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from accounts.models import Role
from amanah.extensions import login_manager


class Action(enum.StrEnum):
    # accounts
    MANAGE_USERS = "manage_users"  # find users, grant and revoke roles
    VIEW_ROLE_CHANGES = "view_role_changes"  # the history of every grant and revocation
    # organizations (object: the organization)
    CREATE_ORGANIZATION = "create_organization"  # no object
    MANAGE_ORGANIZATION = "manage_organization"  # its profile, members and verification papers
    VERIFY_ORGANIZATION = "verify_organization"  # grant or withdraw the verified badge; no object: the queue
    MANAGE_SERVICE_POINTS = "manage_service_points"  # the places it serves (the map); object: the org
    # campaigns (object: the campaign)
    VIEW_CAMPAIGN = "view_campaign"
    CREATE_CAMPAIGN = "create_campaign"  # no object; also the organizer's "my campaigns" page
    EDIT_CAMPAIGN = "edit_campaign"
    SUBMIT_CAMPAIGN = "submit_campaign"
    REVIEW_CAMPAIGN = "review_campaign"  # publish or reject; without an object: the review pages
    CLOSE_CAMPAIGN = "close_campaign"
    POST_CAMPAIGN_UPDATE = "post_campaign_update"
    VIEW_CAMPAIGN_HISTORY = "view_campaign_history"
    CHANGE_TREASURER = "change_treasurer"
    POST_PROGRESS_REPORT = "post_progress_report"  # object: the campaign
    # giving and documents
    REFUND_DONATION = "refund_donation"  # object: the donation
    VIEW_RECONCILIATION = "view_reconciliation"  # reconciliation runs and payment anomalies; no object
    VIEW_DONATION_DOCUMENT = "view_donation_document"  # receipts and credit notes; object: the donation
    DOWNLOAD_STATEMENT = "download_statement"  # a donor's own statement; no object
    VIEW_CAMPAIGN_REPORT = "view_campaign_report"  # object: the campaign
    BULK_DOWNLOAD = "bulk_download"  # every receipt of a campaign as a ZIP; object: the campaign
    # treasury
    VIEW_TREASURY = "view_treasury"  # the treasury overview; no object
    RECORD_DISBURSEMENT = "record_disbursement"  # object: the campaign
    REVERSE_DISBURSEMENT = "reverse_disbursement"  # object: the disbursement
    VIEW_WITHHELD_EVIDENCE = "view_withheld_evidence"  # object: the campaign
    VIEW_EVIDENCE = "view_evidence"  # object: the disbursement


# ---- who someone is ----

def _signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _is_admin(user) -> bool:
    return user is not None and user.has_role(Role.ADMIN)


def _is_auditor(user) -> bool:
    return user is not None and user.has_role(Role.AUDITOR)


def _is_organizer_of(user, campaign) -> bool:
    """The user who created the campaign, whatever roles they hold now."""
    return user is not None and campaign.organizer_id == user.id


def _is_acting_organizer_of(user, campaign) -> bool:
    """The campaign's organizer while they still hold the organizer role: revoking the role ends
    editing, submitting, closing and posting updates at once (as for a campaign's treasurer)."""
    return _is_organizer_of(user, campaign) and user.has_role(Role.ORGANIZER)


def _is_treasurer_of(user, campaign) -> bool:
    """The treasurer named on the campaign while they still hold the treasurer role."""
    return user is not None and user.has_role(Role.TREASURER) and campaign.treasurer_id == user.id


def _is_treasurer_for(user, donation) -> bool:
    """_is_treasurer_of() the donation's campaign, which is read only for treasurers."""
    return user is not None and user.has_role(Role.TREASURER) and donation.campaign.treasurer_id == user.id


def _is_admin_or_treasurer_of(user, campaign) -> bool:
    """The rule every money matter shares: an admin, or this campaign's treasurer."""
    return _is_admin(user) or _is_treasurer_of(user, campaign)


# ---- one rule per action; `user` is None for whoever is not signed in ----

def _manage_users(user, _obj) -> bool:
    return _is_admin(user)


def _view_role_changes(user, _obj) -> bool:
    return _is_admin(user) or _is_auditor(user)  # auditors read every record; only admins change roles


def _create_organization(user, _obj) -> bool:
    return user is not None and user.has_role(Role.ORGANIZER, Role.ADMIN)


def _manage_organization(user, organization) -> bool:
    """Its organizers (while they hold the organizer role) and admins."""
    return _is_admin(user) or (user is not None and user.has_role(Role.ORGANIZER)
                               and organization.has_member(user, "organizer"))


def _verify_organization(user, _organization) -> bool:
    return _is_admin(user)


def _view_campaign(user, campaign) -> bool:
    """Published and closed campaigns are public; the rest only for their organizer, treasurer and
    the admins (everyone else must not even learn that they exist)."""
    return campaign.is_public or _is_organizer_of(user, campaign) or _is_admin_or_treasurer_of(user, campaign)


def _create_campaign(user, _obj) -> bool:
    return user is not None and user.has_role(Role.ORGANIZER)


def _edit_campaign(user, campaign) -> bool:
    """The organizer, and only while the campaign is a draft, rejected or published."""
    return _is_acting_organizer_of(user, campaign) and campaign.is_editable


def _submit_campaign(user, campaign) -> bool:
    return _is_acting_organizer_of(user, campaign)


def _review_campaign(user, campaign) -> bool:
    """Admins review, but never their own campaign: publishing takes a second pair of eyes."""
    return _is_admin(user) and (campaign is None or not _is_organizer_of(user, campaign))


def _close_campaign(user, campaign) -> bool:
    return _is_acting_organizer_of(user, campaign) or _is_admin(user)


def _post_campaign_update(user, campaign) -> bool:
    return _is_acting_organizer_of(user, campaign) and campaign.is_public


def _post_progress_report(user, campaign) -> bool:
    """Its acting organizer, its treasurer or an admin, once the campaign is public: reports
    account for money given."""
    return campaign.is_public and (_is_acting_organizer_of(user, campaign)
                                   or _is_admin_or_treasurer_of(user, campaign))


def _view_campaign_history(user, _campaign) -> bool:
    return _is_admin(user)


def _change_treasurer(user, campaign) -> bool:
    """Once a campaign is public its treasurer holds its money: only an admin hands it to another
    treasurer, and never on a campaign they organize themselves (a second pair of eyes, as for
    reviews). Drafts and rejected campaigns are still the organizer's to change in the edit form."""
    return _review_campaign(user, campaign) and campaign.is_public


def _refund_donation(user, donation) -> bool:
    return _is_admin(user) or _is_treasurer_for(user, donation)


def _view_reconciliation(user, _obj) -> bool:
    return _is_admin(user) or _is_auditor(user)  # what the providers did that the ledger did not take in


def _view_donation_document(user, donation) -> bool:
    """The donor, the campaign's treasurer and admins. The donor is asked first: their own
    receipts cost no look-up of the campaign."""
    is_donor = user is not None and donation.user_id is not None and donation.user_id == user.id
    return is_donor or _is_admin(user) or _is_treasurer_for(user, donation)


def _download_statement(user, _obj) -> bool:
    return user is not None  # a donor's statement covers only their own donations


def _view_campaign_report(user, campaign) -> bool:
    return _is_auditor(user) or _is_admin_or_treasurer_of(user, campaign)


def _bulk_download(user, campaign) -> bool:
    return _is_admin_or_treasurer_of(user, campaign)


def _view_treasury(user, _obj) -> bool:
    return user is not None and user.has_role(Role.TREASURER, Role.ADMIN)


def _record_disbursement(user, campaign) -> bool:
    """The campaign's treasurer or an admin, once the campaign is public (only then can it hold money)."""
    return campaign.is_public and _is_admin_or_treasurer_of(user, campaign)


def _reverse_disbursement(user, disbursement) -> bool:
    """Whoever may record a disbursement on its campaign may correct one recorded in error."""
    return _record_disbursement(user, disbursement.campaign)


def _view_withheld_evidence(user, campaign) -> bool:
    return _is_auditor(user) or _is_admin_or_treasurer_of(user, campaign)


def _view_evidence(user, disbursement) -> bool:
    """Public evidence to whoever may see the campaign; withheld evidence to its treasurer, admins
    and auditors (and then too only while they may see the campaign)."""
    campaign = disbursement.campaign
    return _view_campaign(user, campaign) and (
        disbursement.evidence_public or _view_withheld_evidence(user, campaign))


RULES: dict[Action, Callable[[Any, Any], bool]] = {
    Action.MANAGE_USERS: _manage_users,
    Action.VIEW_ROLE_CHANGES: _view_role_changes,
    Action.CREATE_ORGANIZATION: _create_organization,
    Action.MANAGE_ORGANIZATION: _manage_organization,
    Action.VERIFY_ORGANIZATION: _verify_organization,
    Action.MANAGE_SERVICE_POINTS: _manage_organization,  # whoever manages its profile
    Action.VIEW_CAMPAIGN: _view_campaign,
    Action.CREATE_CAMPAIGN: _create_campaign,
    Action.EDIT_CAMPAIGN: _edit_campaign,
    Action.SUBMIT_CAMPAIGN: _submit_campaign,
    Action.REVIEW_CAMPAIGN: _review_campaign,
    Action.CLOSE_CAMPAIGN: _close_campaign,
    Action.POST_CAMPAIGN_UPDATE: _post_campaign_update,
    Action.VIEW_CAMPAIGN_HISTORY: _view_campaign_history,
    Action.CHANGE_TREASURER: _change_treasurer,
    Action.POST_PROGRESS_REPORT: _post_progress_report,
    Action.REFUND_DONATION: _refund_donation,
    Action.VIEW_RECONCILIATION: _view_reconciliation,
    Action.VIEW_DONATION_DOCUMENT: _view_donation_document,
    Action.DOWNLOAD_STATEMENT: _download_statement,
    Action.VIEW_CAMPAIGN_REPORT: _view_campaign_report,
    Action.BULK_DOWNLOAD: _bulk_download,
    Action.VIEW_TREASURY: _view_treasury,
    Action.RECORD_DISBURSEMENT: _record_disbursement,
    Action.REVERSE_DISBURSEMENT: _reverse_disbursement,
    Action.VIEW_WITHHELD_EVIDENCE: _view_withheld_evidence,
    Action.VIEW_EVIDENCE: _view_evidence,
}


def can(user, action: Action | str, obj=None) -> bool:
    """True when `user` (a User, the anonymous user or None) may do `action` to `obj`.

    An unknown action name raises ValueError rather than answering False: a typo in a template
    must not quietly hide a button.
    """
    rule = RULES[Action(action)]
    return bool(rule(user if _signed_in(user) else None, obj))


def user_can(action: Action | str, obj=None) -> bool:
    """can() for the signed-in user (templates: `user_can(Action.BULK_DOWNLOAD, campaign)`)."""
    return can(current_user, action, obj)


def permission_required(action: Action, load: Callable[..., Any] | None = None, hide: bool = False):
    """Allow the view only to whoever may do `action` (to `load(**view_args)` when given).

    Anonymous visitors are sent to the login page; others get 403, or 404 with hide=True where the
    page's existence itself is private. A `load` that finds nothing answers 404.
    """
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            obj = None
            if load is not None:
                obj = load(**kwargs)
                if obj is None:
                    abort(404)
            if can(current_user, action, obj):
                return view(*args, **kwargs)
            if not _signed_in(current_user):
                return login_manager.unauthorized()
            abort(404 if hide else 403)
        return wrapped
    return decorator


def init_app(app) -> None:
    app.jinja_env.globals.update(user_can=user_can, Action=Action)
