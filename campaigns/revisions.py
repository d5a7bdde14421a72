"""How a campaign's recorded edits (CampaignRevision) read on its public "changes" page.

Each changed field becomes a row: its label, and what it said before and after, formatted as the
campaign page shows it (money in the reader's locale, dates, category and province names). The
story is Markdown the organizer wrote: it is shown as a unified diff of its source, as plain text
(the template escapes it), never rendered.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib

from flask_babel import lazy_gettext as _l

from amanah.i18n import format_money, format_wib_date
from campaigns import categories, indicators, regions
from campaigns.models import Campaign, CampaignRevision

FIELD_LABELS = {
    "title": _l("Title"),
    "goal": _l("Goal"),
    "deadline": _l("Deadline"),
    "city": _l("City or regency"),
    "region": _l("Province"),
    "category": _l("Category"),
    "beneficiary": _l("Beneficiaries"),
    "story": _l("Story"),
    "cover": _l("Cover image"),
    "indicators": _l("Outcome indicators"),
}
# Fields whose change is told in a sentence of its own rather than as "before -> after".
LONG_FIELDS = ("story", "cover")


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    before: str
    after: str


@dataclasses.dataclass(frozen=True)
class Described:
    revision: CampaignRevision
    rows: list[Row]
    story_diff: str | None  # a unified diff of the story's Markdown source, when it changed
    cover_changed: bool

    @property
    def labels(self) -> list[str]:
        """The changed fields' names, in the order of FIELD_LABELS."""
        return [str(FIELD_LABELS[name]) for name in FIELD_LABELS if name in self.revision.changes]


def _show(name: str, value, campaign: Campaign) -> str:
    if value is None or value == "":
        return "—"
    if name == "goal":
        return format_money(int(value), campaign.currency)
    if name == "deadline":
        return format_wib_date(dt.date.fromisoformat(value))
    if name == "category":
        return categories.label(value)
    if name == "region":
        return regions.name(value)
    if name == "indicators":
        return "\n".join(indicators.describe(snapshot) for snapshot in value)
    return str(value)


def story_diff(before: str, after: str) -> str:
    lines = difflib.unified_diff((before or "").splitlines(), (after or "").splitlines(),
                                 fromfile=str(_l("before")), tofile=str(_l("after")), lineterm="")
    return "\n".join(lines)


def describe(revision: CampaignRevision, campaign: Campaign) -> Described:
    changes = revision.changes or {}
    rows = [Row(str(label), _show(name, changes[name]["before"], campaign),
                _show(name, changes[name]["after"], campaign))
            for name, label in FIELD_LABELS.items() if name in changes and name not in LONG_FIELDS]
    story = changes.get("story")
    return Described(revision=revision, rows=rows,
                     story_diff=story_diff(story["before"], story["after"]) if story else None,
                     cover_changed="cover" in changes)
