"""Markdown stories and updates, rendered to HTML and sanitized so that no script survives.

Organizers write Markdown; raw HTML in it is allowed through `markdown` but then `nh3` keeps
only a small set of text tags. Images are dropped: the campaign's cover is its one picture and
nothing may be loaded from other origins (the CSP would block it anyway).
"""
from __future__ import annotations

import html as html_lib
import re

import markdown as md
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote",
                "h2", "h3", "h4", "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
_H1 = re.compile(r"<(/?)h1>")


def render_markdown(text: str) -> Markup:
    html = md.markdown(text or "", extensions=["sane_lists", "tables"], output_format="html")
    # The page's title is its only <h1>: a story's top-level headings become <h2>.
    html = _H1.sub(r"<\1h2>", html)
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                      link_rel="nofollow noopener noreferrer ugc")
    return Markup(clean)  # noqa: S704 - sanitized by nh3 just above


def plain_excerpt(text: str, length: int = 180) -> str:
    """The first words of a story as plain text, for cards and feeds."""
    plain = nh3.clean(md.markdown(text or ""), tags=set())
    plain = " ".join(html_lib.unescape(plain).split())
    if len(plain) <= length:
        return plain
    return plain[: length - 1].rsplit(" ", 1)[0] + "…"
