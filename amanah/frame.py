"""The site frame (header, menus, language form, footer) around a page's own content, rendered once
per template, endpoint and locale for anonymous visitors and then filled in per request.

An anonymous visitor's frame differs from another's only in the page title, the path the language
form returns to, and the content. Rendering the frame with markers in those places and filling them
in later gives the same bytes as rendering it in full, without running the frame's ~2,000 template
calls per request (a fifth of an uncached ledger page). The frame holds nothing of the visitor's
own: the language form is checked by its Origin, not a token (amanah.views.set_language), so these
pages create no session and are safe for shared caches.

Signed-in visitors (their name, roles, sign-out token) and requests with flashed messages waiting
get the frame rendered in full, as do apps that reload templates (development).
"""
from __future__ import annotations

import re
import threading

from flask import current_app, render_template, request, session
from flask_login import current_user
from markupsafe import Markup, escape

from amanah.i18n import current_locale

_MARK = "\x00frame:{}\x00"
_SPLIT = re.compile("\x00frame:(title|next|content)\x00")
_KEY = "amanah.frames"
_MAX_FRAMES = 256
_lock = threading.Lock()


class _MarkedRequest:
    """What the frame templates read of `request`, with the return path as a marker."""

    query_string = b"marked"

    def __init__(self, endpoint: str | None, script_root: str):
        self.endpoint = endpoint
        # The frames are kept per script root (render_framed), so the mount point is written in.
        self.script_root = script_root
        self.path = self.full_path = Markup(_MARK.format("next"))  # noqa: S704 - a constant


def _no_token_in_a_shared_frame():
    raise RuntimeError("a frame shared by anonymous visitors cannot hold a CSRF token; "
                       "render this template in full (amanah.frame.can_share)")


def _render_marked(template: str, endpoint: str | None) -> list[str]:
    """The template rendered with markers, split so that odd items name the slots to fill."""
    marked = render_template(template, title=Markup(_MARK.format("title")),  # noqa: S704
                             content=Markup(_MARK.format("content")),  # noqa: S704
                             csrf_token=_no_token_in_a_shared_frame,
                             request=_MarkedRequest(endpoint, request.script_root))
    return _SPLIT.split(marked)


def can_share() -> bool:
    """Whether this request's page holds nothing of the visitor's own, so others may be served it."""
    return (not current_user.is_authenticated and not session.get("_flashes")
            and not current_app.jinja_env.auto_reload)




def render_framed(template: str, *, title: str, content: Markup, version: str = "") -> str:
    """render_template(template, title=title, content=content), from a shared frame when possible.

    `version` should change whenever the templates or catalogs do (a deployment), so a long-lived
    process never serves a stale frame; ledger.pages passes its templates' digest.
    """
    if not can_share():
        return render_template(template, title=title, content=content)
    # The frame's links carry the script root (the app's mount point, which a trusted proxy may
    # set per request through SCRIPT_NAME): a frame built under one is never served under another.
    key = (template, request.endpoint, current_locale(), version, request.script_root)
    frames = current_app.extensions.setdefault(_KEY, {})
    parts = frames.get(key)
    if parts is None:
        parts = _render_marked(template, request.endpoint)
        with _lock:
            if len(frames) >= _MAX_FRAMES:  # a few dozen in use; more means odd script roots
                frames.clear()
            frames[key] = parts
    values = {"title": escape(title), "content": content,
              "next": escape(request.full_path if request.query_string else request.path)}
    return "".join(values[part] if index % 2 else part for index, part in enumerate(parts))
