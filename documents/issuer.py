"""Who issues a document: the organization named at its head, with what a tax office asks for.

A campaign run by a verified organization names that organization (its profile: name, address,
legal basis, NPWP): the money was given to it. Every other document (a personal campaign's, an
unverified organization's, a donor's statement across campaigns) names the platform's operator
from configuration (ORG_NAME, ORG_ADDRESS, ORG_REGISTRATION_NO, ORG_NPWP), which production
refuses to start without. Documents copy this dict when they are issued, so a later change of
profile or configuration never alters one already issued.
"""
from __future__ import annotations

from flask import current_app

from organizations.services import format_npwp


def platform() -> dict:
    config = current_app.config
    return {"name": config["ORG_NAME"], "address": config["ORG_ADDRESS"],
            "registration_no": config["ORG_REGISTRATION_NO"], "npwp": format_npwp(config["ORG_NPWP"]),
            "source": "platform"}


def issuer_of(campaign) -> dict:
    """The organization that receives gifts to `campaign`, as its documents name it."""
    organization = campaign.organization
    if organization is None or not organization.is_verified:
        return platform()
    return {"name": organization.name, "address": organization.address,
            "registration_no": organization.legal_basis, "npwp": format_npwp(organization.npwp),
            "source": "organization"}
