"""Sharing a campaign: OpenGraph and Twitter card tags (absolute addresses, the cover, the locale),
plain share links to WhatsApp, Telegram, Facebook and X, and a copy button from our own script."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from amanah.extensions import db
from campaigns import services
from tests.factories.campaigns import client_for, image_bytes, make_campaign, make_people, user


class Head(HTMLParser):
    """The page's <meta> tags (property or name -> contents), links and scripts."""

    def __init__(self):
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, str] = {}
        self.anchors: dict[str, str] = {}
        self.scripts: list[dict] = []
        self.buttons: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and ("property" in attrs or "name" in attrs):
            key = attrs.get("property") or attrs["name"]
            self.meta.setdefault(key, []).append(attrs.get("content", ""))
        elif tag == "link" and attrs.get("rel"):
            self.links[attrs["rel"]] = attrs.get("href", "")
        elif tag == "a" and (attrs.get("class") or "").startswith("share-"):
            self.anchors[attrs["class"]] = attrs["href"]
        elif tag == "script":
            self.scripts.append(attrs)
        elif tag == "button":
            self.buttons.append(attrs)


def _read(html: str) -> Head:
    parser = Head()
    parser.feed(html)
    return parser


def _with_cover(app, people, **overrides) -> str:
    return make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"],
                         cover=image_bytes("PNG", (800, 500)), **overrides)


@pytest.mark.files
def test_open_graph_and_twitter_tags_name_the_campaign_with_absolute_addresses(app):
    people = make_people(app)
    public_id = _with_cover(app, people, title="Timbangan baru & alat ukur untuk Posyandu")
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        slug, cover = campaign.slug, campaign.cover
    client = client_for(app, None, "id")
    page = client.get(f"/campaigns/{public_id}/{slug}")
    assert page.status_code == 200
    head = _read(page.get_data(as_text=True))
    url = head.links["canonical"]
    assert urlsplit(url).scheme in ("http", "https")
    assert url.endswith(f"//localhost/campaigns/{public_id}/{slug}")
    assert head.meta["og:url"] == [url] and head.meta["og:type"] == ["website"]
    assert head.meta["og:title"] == ["Timbangan baru & alat ukur untuk Posyandu"]  # unescaped once
    assert head.meta["twitter:title"] == head.meta["og:title"]
    assert head.meta["og:description"][0].startswith("Posyandu Melati melayani 80 balita")
    assert "**" not in head.meta["og:description"][0]  # plain text, not Markdown
    image = url.split("/campaigns/")[0] + f"/campaigns/covers/{cover}"
    assert head.meta["og:image"] == [image] and head.meta["twitter:image"] == [image]
    assert head.meta["og:image:type"] == ["image/webp"]
    assert head.meta["twitter:card"] == ["summary_large_image"]
    assert head.meta["og:locale"] == ["id_ID"] and head.meta["og:locale:alternate"] == ["en_US"]
    with client.get(urlsplit(image).path) as served:
        assert served.status_code == 200 and served.mimetype == "image/webp"

    english = _read(client_for(app, None, "en").get(f"/campaigns/{public_id}/{slug}").get_data(as_text=True))
    assert english.meta["og:locale"] == ["en_US"] and english.meta["og:locale:alternate"] == ["id_ID"]
    assert english.meta["og:image:alt"] == [
        "Cover picture of the campaign “Timbangan baru & alat ukur untuk Posyandu”"]


@pytest.mark.files
def test_addresses_follow_the_configured_server_name_and_scheme(app):
    people = make_people(app)
    public_id = _with_cover(app, people)
    with app.app_context():
        slug = services.get_by_public_id(public_id).slug
    client = client_for(app, None, "id")
    page = client.get(f"/campaigns/{public_id}/{slug}", base_url="https://amanah.example.org")
    head = _read(page.get_data(as_text=True))
    assert head.meta["og:url"] == [f"https://amanah.example.org/campaigns/{public_id}/{slug}"]
    assert head.meta["og:image"][0].startswith("https://amanah.example.org/campaigns/covers/")


def test_a_campaign_without_a_cover_gets_a_summary_card_and_no_image(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    with app.app_context():
        slug = services.get_by_public_id(public_id).slug
    head = _read(client_for(app, None).get(f"/campaigns/{public_id}/{slug}").get_data(as_text=True))
    assert head.meta["twitter:card"] == ["summary"]
    assert "og:image" not in head.meta and "twitter:image" not in head.meta
    assert head.meta["og:title"]


@pytest.mark.files
def test_share_links_are_plain_links_carrying_the_page_address(app):
    people = make_people(app)
    public_id = _with_cover(app, people, title="Air bersih & sanitasi untuk SD Ketapang")
    with app.app_context():
        slug = services.get_by_public_id(public_id).slug
    html = client_for(app, None, "en").get(f"/campaigns/{public_id}/{slug}").get_data(as_text=True)
    links, url = _read(html).anchors, _read(html).links["canonical"]
    assert url.endswith(f"//localhost/campaigns/{public_id}/{slug}")
    assert set(links) == {"share-whatsapp", "share-telegram", "share-facebook", "share-x"}

    def query(name):
        parts = urlsplit(links[name])
        return parts.scheme, parts.netloc, parts.path, parse_qs(parts.query)

    scheme, host, path, args = query("share-whatsapp")
    assert (scheme, host, path) == ("https", "wa.me", "/")
    assert args["text"] == [f"Support “Air bersih & sanitasi untuk SD Ketapang” on Amanah {url}"]
    scheme, host, path, args = query("share-telegram")
    assert (host, path) == ("t.me", "/share/url") and args["url"] == [url]
    assert args["text"] == ["Support “Air bersih & sanitasi untuk SD Ketapang” on Amanah"]
    scheme, host, path, args = query("share-facebook")
    assert (host, path) == ("www.facebook.com", "/sharer/sharer.php") and args["u"] == [url]
    scheme, host, path, args = query("share-x")
    assert (host, path) == ("x.com", "/intent/tweet") and args["url"] == [url]
    # No script of theirs: every script on the page is our own static file.
    assert all(s.get("src", "").startswith("/static/") for s in _read(html).scripts)


@pytest.mark.files
def test_the_copy_button_is_progressive_enhancement_from_our_own_static_script(app):
    people = make_people(app)
    public_id = _with_cover(app, people)
    with app.app_context():
        slug = services.get_by_public_id(public_id).slug
    client = client_for(app, None, "id")
    page = client.get(f"/campaigns/{public_id}/{slug}")
    head = _read(page.get_data(as_text=True))
    copy = [b for b in head.buttons if "copy-link" in (b.get("class") or "")]
    assert len(copy) == 1 and "hidden" in copy[0] and copy[0]["type"] == "button"
    assert f'value="{head.links["canonical"]}" readonly' in page.get_data(as_text=True)
    assert {"src": "/static/js/share.js", "defer": None} in head.scripts
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    with client.get("/static/js/share.js") as script:
        assert script.status_code == 200 and "javascript" in script.mimetype
        assert "navigator.clipboard" in script.get_data(as_text=True)


def test_only_public_campaigns_are_shared(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    with app.app_context():
        slug = services.get_by_public_id(public_id).slug
        assert user(people["owner"]) is not None
        db.session.remove()
    html = client_for(app, people["owner"]).get(f"/campaigns/{public_id}/{slug}").get_data(as_text=True)
    head = _read(html)
    assert "og:title" not in head.meta and not head.anchors and "share.js" not in html
