"""An Atom feed (RFC 4287) of each public campaign's updates ("Kabar terbaru") and of what other
packages add to it (progress reports), newest first."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from flask import Response, abort, url_for
from flask_babel import gettext as _

from campaigns import contributions, services
from campaigns.models import Campaign
from campaigns.rendering import render_markdown
from campaigns.views import bp

ATOM = "http://www.w3.org/2005/Atom"
FEED_LIMIT = 50


def _stable_url(campaign: Campaign) -> str:
    # Without the slug: a title change must not change the ids that feed readers remember.
    return url_for("campaigns.show", public_id=campaign.public_id, _external=True)


def atom_feed(campaign: Campaign) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: str(v) for k, v in attrs.items()})
        if text is not None:
            element.text = text
        return element

    base = _stable_url(campaign)
    items = [contributions.FeedItem(f"update-{u.id}", u.title, u.created_at, f"{base}#update-{u.id}",
                                    str(render_markdown(u.body))) for u in campaign.updates[:FEED_LIMIT]]
    items = sorted([*items, *contributions.feed_items(campaign)], key=lambda i: i.at, reverse=True)
    items = items[:FEED_LIMIT]
    newest = max([i.at for i in items] + [campaign.published_at or campaign.created_at])
    sub(feed, "id", base)
    sub(feed, "title", _("Updates: %(title)s", title=campaign.title))
    sub(feed, "updated", newest.isoformat())
    sub(feed, "link", rel="alternate", type="text/html",
        href=url_for("campaigns.show", public_id=campaign.public_id, slug=campaign.slug, _external=True))
    sub(feed, "link", rel="self", type="application/atom+xml",
        href=url_for("campaigns.feed", public_id=campaign.public_id, _external=True))
    author = sub(feed, "author")
    sub(author, "name", campaign.organizer.display_name)
    for item in items:
        entry = sub(feed, "entry")
        sub(entry, "id", f"{base}#{item.key}")
        sub(entry, "title", item.title)
        sub(entry, "updated", item.at.isoformat())
        sub(entry, "published", item.at.isoformat())
        sub(entry, "link", rel="alternate", type="text/html", href=item.url)
        sub(entry, "content", item.html, type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


@bp.get("/<public_id>/updates.atom")
def feed(public_id: str):
    campaign = services.get_by_public_id(public_id)
    if campaign is None or not campaign.is_public:
        abort(404)
    return Response(atom_feed(campaign), mimetype="application/atom+xml")
