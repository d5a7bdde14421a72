"""A campaign's lifecycle as an explicit state machine.

    draft --submit--> submitted --publish--> published --close/expire--> closed
                          |  ^
                    reject|  |submit (after editing)
                          v  |
                        rejected

Each transition has a name; asking for one that is not allowed from the current state raises
IllegalTransition naming both, so no code path can move a campaign anywhere it may not go.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from amanah.errors import IllegalTransition


class Status(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    REJECTED = "rejected"
    CLOSED = "closed"


STATUS_LABELS = {
    Status.DRAFT: _l("Draft"),
    Status.SUBMITTED: _l("Awaiting review"),
    Status.PUBLISHED: _l("Open for donations"),
    Status.REJECTED: _l("Rejected"),
    Status.CLOSED: _l("Closed"),
}

# What the public may see; everything else is private to its organizer and the admins.
PUBLIC_STATUSES = (Status.PUBLISHED, Status.CLOSED)
# States in which the organizer may still change the campaign's fields.
EDITABLE_STATUSES = (Status.DRAFT, Status.REJECTED, Status.PUBLISHED)


@dataclass(frozen=True)
class Rule:
    sources: tuple[Status, ...]
    target: Status
    needs_reason: bool = False


class Transition(enum.StrEnum):
    SUBMIT = "submit"
    PUBLISH = "publish"
    REJECT = "reject"
    CLOSE = "close"
    EXPIRE = "expire"


RULES: dict[Transition, Rule] = {
    Transition.SUBMIT: Rule((Status.DRAFT, Status.REJECTED), Status.SUBMITTED),
    Transition.PUBLISH: Rule((Status.SUBMITTED,), Status.PUBLISHED),
    Transition.REJECT: Rule((Status.SUBMITTED,), Status.REJECTED, needs_reason=True),
    Transition.CLOSE: Rule((Status.PUBLISHED,), Status.CLOSED),
    Transition.EXPIRE: Rule((Status.PUBLISHED,), Status.CLOSED),
}

TRANSITION_LABELS = {
    Transition.SUBMIT: _l("Submitted for review"),
    Transition.PUBLISH: _l("Published"),
    Transition.REJECT: _l("Rejected"),
    Transition.CLOSE: _l("Closed"),
    Transition.EXPIRE: _l("Closed: deadline passed"),
}
CREATED_LABEL = _l("Created")


def illegal(transition: Transition | str, current: Status | str) -> IllegalTransition:
    """The error for a transition not allowed from the campaign's current state."""
    return IllegalTransition(f"cannot {transition} a campaign that is {current}",
                             current=current, transition=transition)


def target_of(transition: Transition | str, current: Status | str) -> Status:
    """The state `transition` leads to from `current`, or IllegalTransition."""
    try:
        rule = RULES[Transition(transition)]
    except ValueError:
        raise illegal(transition, current) from None
    if Status(current) not in rule.sources:
        raise illegal(transition, current)
    return rule.target


def allowed_from(current: Status | str) -> list[Transition]:
    return [t for t, rule in RULES.items() if Status(current) in rule.sources]
