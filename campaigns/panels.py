"""Sections other packages add to a campaign's page, without campaigns importing those packages.

Donations, documents and treasury each register their panels at init_app time: the slot of the
page a panel fills, the template that draws it, who sees it (`visible`) and what it shows
(`context`). The campaign view asks `panels_for(campaign, user)` once, so every query and
permission check runs in the view, in the package that owns the data; the page only draws the
panels of each slot in order. A panel's template gets its context and `campaign`, nothing else
from the page.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, render_template
from markupsafe import Markup

# Where a panel may sit on templates/campaigns/show.html, from top to bottom.
SLOTS = (
    "banner",   # the strip above the page (base.html's sandbox_banner block)
    "main",     # the main column, after the campaign's finances
    "facts",    # the side column's facts, under the treasurer's name
    "side",     # the side column, under the donate button
    "actions",  # inside the campaign's "Manage" box, before closing (which stays last)
    "manage",   # the side column's boxes for the people who look after the campaign
    "history",  # the admins' history of the campaign, after its status changes
)

_EXTENSION = "campaign_panels"

Visible = Callable[[Any, Any], bool]  # (user or None, campaign) -> may this user see the panel?
# (user or None, campaign) -> the template's variables, or None when there is nothing to show
Context = Callable[[Any, Any], Mapping[str, Any] | None]


def _no_context(user, campaign) -> Mapping[str, Any]:
    return {}


@dataclasses.dataclass(frozen=True)
class PanelProvider:
    """What a package registered: how to decide on and build one panel."""

    slot: str
    name: str
    template: str
    visible: Visible
    context: Context
    order: int


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel built for one campaign and one user, ready to draw."""

    name: str
    template: str
    context: Mapping[str, Any]

    def render(self) -> Markup:
        """The panel's template with its own context (and the app's usual template globals)."""
        # Safe: a template's output, escaped by Jinja's autoescape as it was rendered.
        return Markup(render_template(self.template, **self.context))  # noqa: S704


def register_panel(app, slot: str, name: str, template: str, *, visible: Visible,
                   context: Context = _no_context, order: int = 0) -> None:
    """Add a panel to every campaign page of `app`.

    Within a slot panels are drawn by `order`, then in the order they were registered; the
    explicit order keeps the page the same whatever order the packages are set up in.
    """
    if slot not in SLOTS:
        raise ValueError(f"unknown campaign page slot {slot!r}; known: {', '.join(SLOTS)}")
    providers = app.extensions.setdefault(_EXTENSION, [])
    if any(p.name == name for p in providers):
        raise ValueError(f"a campaign panel named {name!r} is already registered")
    providers.append(PanelProvider(slot, name, template, visible, context, order))


def providers(app=None) -> list[PanelProvider]:
    """Every registered panel, in drawing order within each slot."""
    registered = (app or current_app).extensions.get(_EXTENSION, [])
    return sorted(registered, key=lambda p: (SLOTS.index(p.slot), p.order))  # stable: then registration


def panels_for(campaign, user, slots: tuple[str, ...] = SLOTS) -> dict[str, list[Panel]]:
    """The panels `user` (None when signed out) sees on `campaign`'s page, by slot (only `slots`).

    A panel's context is built only when it is visible, so a hidden panel runs none of its queries;
    a panel whose context is None has nothing to show and is left out too.
    """
    by_slot: dict[str, list[Panel]] = {slot: [] for slot in SLOTS}
    for provider in providers():
        if provider.slot in slots and provider.visible(user, campaign):
            context = provider.context(user, campaign)
            if context is not None:
                by_slot[provider.slot].append(
                    Panel(provider.name, provider.template, {**context, "campaign": campaign}))
    return by_slot
