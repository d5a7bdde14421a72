"""Every link a page shows leads somewhere: no page offers a way that is broken for its reader.

The world is the demo data (tests/factories/pages.py), built once for the module. The app is
served under a mount point (/amanah, as a proxy may set one through SCRIPT_NAME), so that a URL
written from the host's root instead of with url_for shows: it leaves the app. For each role,
every GET page of the URL map is requested in Indonesian (URLs carry no language: for two
roles the pages are read in English too, to make sure), and every URL of its HTML
answer is collected, an error page's too (a 403 or 404 page offers a way on as well):
`a[href]`, `area[href]`, `link[href]`, the `src` of `img`, `script`, `source`, `iframe`, `audio`
and `video`, `srcset`, a meta refresh, the `next` a form sends its reader back to, and
`form[action]` with its method (a form without action is sent to the page itself; a button's
`formaction`/`formmethod` overrides them). Another site's links are left to
tests/amanah/test_links.py (they come from configuration); `mailto:`, `tel:` and `data:` are
not links to this site; `javascript:` and any other scheme fail the case. A `#fragment` must
name an id (or an `a[name]`) of the page it points to, this one or another.

Then each distinct target is checked once per role:

- links and assets are requested (GET, following this site's redirects: a redirect is fine, one
  to a 404 is not): anything from 400 up fails. A 403 is no exception: the page showed the link
  to that very reader. A link's query string counts, so a pagination or filter link that the
  page refuses with a 400 fails too. A style sheet's `url()`s and `@import`s are checked too;
- a GET form is a link whose query the reader builds: it is requested as it stands (what
  pressing its button sends) and with each option of each of its selects;
- other forms are not sent (tests/amanah/test_route_fuzz.py posts every route): the URL map
  must accept the form's method at its action;
- the first page of each kind (endpoint and query keys) that a link leads to and the world's
  page list does not hold (a list's page 2, a filtered list, an entry) is read as well, and its
  links are checked the same way.

Bulk downloads (`/download`, ZIPs) are matched against the URL map instead of requested: they
are built by a job. PDFs are requested: each is rendered once and then served from storage.
The `data-*-url` attributes are templates the scripts fill in (`.../entries/0`), not links.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
from lxml import html as lxml_html
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from accounts.models import User
from amanah.extensions import db
from tests.conftest import World
from tests.factories import login
from tests.factories.pages import ROLES, demo_world

SITE = "http://localhost"
# The app is served under a mount point, as a proxy may set one (SCRIPT_NAME; see
# tests/amanah/test_frame.py): a link written as a path from the host's root leaves the app.
MOUNT = "/amanah"
OUTSIDE = "(outside the mount point) "
LEFT_THE_APP = 0  # the status of a redirect out of the mount point
# URLs carry no language: the sweep reads the pages in Indonesian, and makes sure that they link
# to the same places in English for these (the shared frame, and the most links).
LANGUAGE_CHECKED = ("anonymous", "admin")
NOT_TO_THIS_SITE = ("mailto", "tel", "data")
# Bulk ZIPs, built by a job rather than the request: matched against the URL map, not requested.
MATCHED_ONLY = ("/download",)
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+?)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")
REFRESH_URL = re.compile(r"(?i)^\s*\d+\s*[;,]\s*url\s*=\s*['\"]?([^'\"]+)")


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory):
    yield from World.serve(databases, tmp_path_factory, demo_world)


@dataclass(frozen=True)
class Target:
    """Where a page points: `method` is None for a link or an asset, a form's method otherwise."""
    url: str  # path and query, no fragment
    method: str | None = None


@dataclass
class Found:
    targets: dict[Target, set[str]] = field(default_factory=dict)  # each target, the pages showing it
    fragments: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # URL -> {(fragment, page)}
    problems: list[str] = field(default_factory=list)
    options: set[tuple] = field(default_factory=set)  # (form action, select, option) sent already

    def add(self, target: Target, page: str) -> None:
        self.targets.setdefault(target, set()).add(page)


def _srcset_urls(value: str) -> list[str]:
    return [candidate.split()[0] for candidate in value.split(",") if candidate.strip()]


def _form_of(node):
    while node is not None and node.tag != "form":
        node = node.getparent()
    return node


def _raw_links(doc) -> list[tuple[str, str | None]]:
    """(URL as written, form method or None) for everything of the page that points somewhere."""
    found = []
    for node in doc.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag in ("a", "area", "link") and node.get("href") is not None:
            found.append((node.get("href"), None))
        if node.tag in ("img", "script", "source", "iframe", "audio", "video") and node.get("src"):
            found.append((node.get("src"), None))
        if node.get("srcset"):
            found.extend((url, None) for url in _srcset_urls(node.get("srcset")))
        if node.tag == "meta" and (node.get("http-equiv") or "").lower() == "refresh":
            match = REFRESH_URL.match(node.get("content") or "")
            if match:
                found.append((match.group(1).strip(), None))
        if node.tag == "form":
            found.append((node.get("action") or "", (node.get("method") or "get").upper()))
        if node.tag == "input" and node.get("name") == "next" and node.get("value"):
            found.append((node.get("value"), None))  # where the form sends its reader back to
        if node.tag in ("button", "input") and (node.get("formaction") or node.get("formmethod")):
            form = _form_of(node)
            action = node.get("formaction") or (form.get("action") if form is not None else None) or ""
            method = node.get("formmethod") or (form.get("method") if form is not None else None) or "get"
            found.append((action, method.upper()))
    return found


def _get_form_queries(form, tried: set) -> list[list[tuple[str, str]]]:
    """What a GET form sends as it stands, and with each option of each of its selects (each
    (select, option) once: `tried` holds those sent already). A search or filter form is a link
    whose query the reader builds: the page must take every choice it offers."""
    values = list(form.form_values())
    submit = next((b for b in form.xpath(".//button[not(@type) or @type='submit'] | .//input[@type='submit']")
                   if b.get("name")), None)
    if submit is not None:
        values.append((submit.get("name"), submit.get("value") or ""))
    queries = [values]
    for select in form.xpath(".//select[@name and not(@disabled) and not(@multiple)]"):
        name = select.get("name")
        for option in select.xpath(".//option[not(@disabled)]"):
            choice = option.get("value") if option.get("value") is not None else (option.text or "").strip()
            if (form.get("action"), name, choice) not in tried:
                tried.add((form.get("action"), name, choice))
                queries.append([(n, choice if n == name else v) for n, v in values])
    return queries


def _anchors(doc) -> set[str]:
    return {*doc.xpath("//@id"), *doc.xpath("//a/@name")}


def _same_site(page: str, raw: str) -> tuple[str, str] | None:
    """(path in the app and query, fragment) of `raw` read on `page`, None for another site's URL.

    The path is the app's, without MOUNT; one of this host outside the mount point is returned
    as OUTSIDE + path, which no route matches."""
    url = urlsplit(urljoin(SITE + MOUNT + page, raw))
    if f"{url.scheme}://{url.netloc}" != SITE:
        return None  # another site's: tests/amanah/test_links.py
    inside = url.path == MOUNT or url.path.startswith(MOUNT + "/")
    path = (url.path[len(MOUNT):] or "/") if inside else OUTSIDE + url.path
    return path + (f"?{url.query}" if url.query else ""), url.fragment


def collect(page: str, body: str, found: Found) -> None:
    """Add the same-site targets of `page` (its HTML in `body`) to `found`."""
    doc = lxml_html.fromstring(body)
    anchors = None
    for written, method in _raw_links(doc):
        raw = written.strip()
        scheme = urlsplit(raw).scheme.lower()
        if scheme == "javascript" or (scheme and scheme not in ("http", "https", *NOT_TO_THIS_SITE)):
            found.problems.append(f"{page}: {raw!r} is not a link")
            continue
        if scheme in NOT_TO_THIS_SITE or (here := _same_site(page, raw)) is None:
            continue
        path, fragment = here
        if raw.startswith("#") and method is None:
            if raw != "#":
                anchors = _anchors(doc) if anchors is None else anchors
                if fragment not in anchors:
                    found.problems.append(f"{page}: {raw!r} names no id of the page")
            continue
        if path == page and method is None:
            continue  # the page itself (an error page's language form returns to it): read already
        found.add(Target(path, method), page)
        if fragment and method is None:
            found.fragments.setdefault(path, set()).add((fragment, page))
    for form in doc.forms:
        here = _same_site(page, form.get("action") or "")
        if (form.get("method") or "get").lower() == "get" and here and not here[0].startswith(OUTSIDE):
            action = here[0].partition("?")[0]
            for query in _get_form_queries(form, found.options):
                found.add(Target(f"{action}?{urlencode(query)}" if query else action), f"{page} (its form)")


def _shown_on(pages: set[str]) -> str:
    listed = sorted(pages)
    return ", ".join(listed[:3]) + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")


def _match(app, url: str, method: str = "GET"):
    """(endpoint, path values) the URL map finds for `url`, or the HTTPException it raises."""
    path, _, query = url.partition("?")
    try:
        return app.url_map.bind("localhost").match(path, method=method, query_args=query)
    except RequestRedirect:
        return None
    except HTTPException as refused:
        return refused


@dataclass
class Fetched:
    url: str  # where the redirects ended
    status: int
    html: str | None  # the body of an HTML answer
    css: str | None  # the body of a style sheet


class Sweep:
    """Checks the targets pages show, once each, and reads the first page of each kind a link
    leads to that the world's page list does not hold (page 2 of a list, a filtered list, a
    form's choice), whose own links are then checked too."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.found = Found()
        self.read_kinds: set = set()  # (endpoint, query keys) of the pages whose links were taken
        self.checked: set[Target] = set()
        self.problems: list[str] = []

    def get(self, url: str) -> Fetched:
        """GET `url`, following this site's redirects: a link that redirects to a 404 is broken."""
        for _hop in range(MAX_REDIRECTS):
            with self.client.get(url, base_url=f"{SITE}{MOUNT}/") as response:
                kind = response.mimetype
                body = response.get_data(as_text=True) if kind in ("text/html", "text/css") else None
                location = response.headers.get("Location") if response.status_code in REDIRECTS else None
                status = response.status_code
            here = _same_site(url, location) if location else None
            if here is not None and here[0].startswith(OUTSIDE):
                return Fetched(here[0], LEFT_THE_APP, None, None)
            if here is None:
                return Fetched(url, status, body if kind == "text/html" else None,
                               body if kind == "text/css" else None)
            url = here[0]
        return Fetched(url, 508, None, None)

    def read(self, url: str, body: str) -> None:
        self.read_kinds.add(self.kind(url))
        collect(url, body, self.found)

    def kind(self, url: str):
        matched = _match(self.app, url)
        endpoint = matched[0] if isinstance(matched, tuple) else url.partition("?")[0]
        return endpoint, frozenset(parse_qs(urlsplit(url).query, keep_blank_values=True))

    def run(self) -> list[str]:
        while todo := sorted(set(self.found.targets) - self.checked, key=lambda t: (t.url, t.method or "")):
            for target in todo:
                self.checked.add(target)
                self.check(target)
        return self.found.problems + self.problems

    def check(self, target: Target) -> None:
        shown = f"{target.method or 'GET'} {target.url} (shown on {_shown_on(self.found.targets[target])})"
        if target.url.startswith(OUTSIDE):
            self.problems.append(f"{shown}: leaves the app")
            return
        if target.method is not None or urlsplit(target.url).path.endswith(MATCHED_ONLY):
            refused = _match(self.app, target.url, target.method or "GET")
            if isinstance(refused, HTTPException):
                self.problems.append(f"{shown}: {refused.code} from the URL map")
            return
        fetched = self.get(target.url)
        if fetched.status == LEFT_THE_APP:
            self.problems.append(f"{shown}: redirects out of the app, to {fetched.url}")
            return
        if fetched.status >= 400:
            via = f" at {fetched.url}" if fetched.url != target.url else ""
            self.problems.append(f"{shown}: {fetched.status}{via}")
            return
        if fetched.css is not None:  # its fonts and pictures
            for match in CSS_URL.finditer(fetched.css):
                raw = (match.group(1) or match.group(2)).strip()
                if not raw.startswith("data:") and (here := _same_site(fetched.url, raw)):
                    self.found.add(Target(here[0]), target.url)
        if fetched.html is None:
            return
        if self.kind(fetched.url) not in self.read_kinds:
            self.read(fetched.url, fetched.html)
        wanted = self.found.fragments.get(target.url, set())
        if wanted:
            anchors = _anchors(lxml_html.fromstring(fetched.html))
            self.problems.extend(f"{page}: {target.url}#{fragment} names no id of that page"
                                 for fragment, page in sorted(wanted) if fragment not in anchors)


def test_the_collection_finds_every_kind_of_link():
    body = """<html><head><link rel="stylesheet" href="/amanah/static/a.css">
      <meta http-equiv="refresh" content="0; url=/amanah/give/pay/x"></head><body>
      <a href="/amanah/campaigns/?page=2#list">next</a><a href="https://x.com/intent">x</a>
      <a href="#top">top</a><a href="/amanah/campaigns/abc">here</a><a href="#nowhere">?</a>
      <a href="mailto:a@b.test">mail</a><a href="javascript:void(0)">js</a>
      <a href="/ledger">root</a><img src="cover.png" srcset="/amanah/static/a.png 1x, b.png 2x">
      <script src="/amanah/static/a.js"></script>
      <form method="post"><button formaction="/amanah/language">id</button><input type="hidden" name="next"
      value="/amanah/about"></form><form action="/amanah/map"><input name="q" value="air">
      <select name="sort"><option value="a" selected>A</option><option value="b">B</option></select></form>
      <p id="top"></p></body></html>"""
    found = Found()
    collect("/campaigns/abc", body, found)
    assert sorted((t.url, t.method or "") for t in found.targets) == [
        (OUTSIDE + "/ledger", ""), ("/about", ""), ("/campaigns/?page=2", ""), ("/campaigns/abc", "POST"),
        ("/campaigns/b.png", ""), ("/campaigns/cover.png", ""), ("/give/pay/x", ""), ("/language", "POST"),
        ("/map", "GET"), ("/map?q=air&sort=a", ""), ("/map?q=air&sort=b", ""), ("/static/a.css", ""),
        ("/static/a.js", ""), ("/static/a.png", "")]
    assert found.fragments == {"/campaigns/?page=2": {("list", "/campaigns/abc")}}
    assert found.problems == ["/campaigns/abc: '#nowhere' names no id of the page",
                              "/campaigns/abc: 'javascript:void(0)' is not a link"]


def _signed_in(app, world, role: str):
    client = app.test_client()
    if role != "anonymous":
        with app.app_context():
            login(client, db.session.get(User, world.data["people"][role]))
    return client


def _read_pages(sweep: Sweep, world, lang: str) -> None:
    with sweep.client.session_transaction() as session:
        session["lang"] = lang
    for _endpoint, url, _takes_post in world.data["pages"]:
        # Every HTML answer, a 403's or a 404's too: their pages offer a way on as well.
        fetched = sweep.get(url)
        if fetched.html is not None:
            sweep.read(fetched.url, fetched.html)


def _shown(sweep: Sweep) -> set[tuple[Target, str]]:
    return {(target, page) for target, pages in sweep.found.targets.items() for page in pages}


@pytest.mark.parametrize("role", ROLES)
def test_every_link_a_page_shows_leads_somewhere(world, role):
    with world.shared.test() as app:
        sweep = Sweep(app, _signed_in(app, world, role))
        _read_pages(sweep, world, "id")
        if role in LANGUAGE_CHECKED:
            in_english = Sweep(app, sweep.client)
            _read_pages(in_english, world, "en")
            assert _shown(in_english) == _shown(sweep), "a page links elsewhere in English"
        problems = sweep.run()
    assert not problems, f"{len(problems)} broken:\n" + "\n".join(problems[:60])
