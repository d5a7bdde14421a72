"""An Indonesian visitor reads Indonesian: every page, for every role, without English leftovers.

The world is the demo data (`flask demo`: organizations, campaigns in every state, donations,
refunds, disbursements, reports, service points), loaded once for the module. For each role the
test requests every GET page of the URL map in Indonesian, with path variables filled from real
rows, and POSTs an empty form to every page that takes one (the forms' error states, and the bare
400 of a form sent without its action). In the visible text and the attributes people read
(title, aria-label, placeholder, alt, a button's value, the data-* texts the scripts show) it
looks for English words from a short list, snake_case codes, ISO dates and English-formatted
money. Text people typed (titles, stories, names, everything stored in the database) is taken out
first; `<code>`, `<pre>`, `.mono` and elements marked with another `lang` are machine text or
deliberately in another language.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from lxml import html as lxml_html

from accounts.models import User
from amanah.extensions import db
from tests.conftest import World
from tests.factories import login
from tests.factories.pages import MACHINE_SUFFIXES, ROLES, SKIPPED_ENDPOINTS, demo_world

ROOT = Path(__file__).resolve().parents[2]

# English that has no place on an Indonesian page: function words, the words of buttons and
# messages, the statuses and kinds the code stores, month and day names (April, September and
# November are the same in Indonesian, so they are not here).
ENGLISH_WORDS = (
    "the", "and", "your", "you", "with", "of", "to", "for", "this", "that", "from", "are", "is", "was",
    "were", "has", "have", "not", "please", "here", "there", "which", "when", "could", "should",
    "submit", "save", "cancel", "delete", "remove", "edit", "back", "next", "previous", "page", "search",
    "download", "upload", "sign in", "sign out", "log in", "error", "required", "invalid", "enter",
    "choose", "select", "loading", "copied", "close", "show", "more", "view", "name", "amount",
    "date", "request", "browser", "server", "understand", "conflict", "common name", "country",
    "paid", "pending", "failed", "refunded", "disputed", "draft", "published", "closed", "rejected",
    "submitted", "donation", "donations", "refund", "disbursement", "treasurer", "organizer", "goal",
    "raised", "days left", "ago", "january", "february", "march", "may", "june", "july", "august",
    "october", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
ENGLISH = re.compile(r"(?i)\b(?:" + "|".join(w.replace(" ", r"\s+") for w in ENGLISH_WORDS) + r")\b")
# A stored code shown as it is ("direct_aid", "chargeback_reversal"), a date as the database keeps
# it (2027-04-04), an amount formatted the English way (IDR 1,500,000).
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
ENGLISH_MONEY = re.compile(r"\bIDR\s|\b\d{1,3}(?:,\d{3})+\b")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")

# Deliberately left as they are (each is the name of something, not a sentence of ours).
ALLOWED = (
    "Amanah test documents",  # the test signing certificate's common name (tests/conftest.py)
    "Creative Commons Attribution 4.0 International",  # the open data licence's own name
)
PARAMETER_VALUES = {
    "Use published or closed.", "Use raised, disbursed, active, donations or donors.",
    "Use province, raised, disbursed, active, donations or donors.", "Use paid or flagged.",
}
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
def _stored_texts() -> list[str]:
    """Every text stored in the database (what people typed, and the demo's), longest first."""
    found = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.String | sa.Text):
                for (value,) in db.session.execute(sa.select(column)):
                    # Not a stored code ("published", "direct_aid"): shown raw, that is a leftover.
                    if isinstance(value, str) and not re.fullmatch(r"[a-z0-9_.-]*", value):
                        found.update(part.strip() for part in re.split(r"\n+|\*\*", value)
                                     if len(part.strip()) >= 3)
    return sorted(found, key=len, reverse=True)


def _build_world(app) -> dict:
    world = demo_world(app)
    with app.app_context():
        return {**world, "stored": _stored_texts()}


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory):
    yield from World.serve(databases, tmp_path_factory, _build_world)


def _readable(body: str) -> list[tuple[str, str]]:
    """(where, text) for the page's visible text and the attributes people read or hear."""
    doc = lxml_html.fromstring(body)
    machine = ("//script | //style | //code | //pre | //*[contains(concat(' ', @class, ' '), ' mono ')]"
               " | //body//*[@lang and not(starts-with(@lang, 'id'))]"
               # The ledger's own pages give times in UTC, as ISO dates, and say so.
               " | //time[contains(@datetime, '+00:00') or contains(@datetime, 'Z')]")
    for node in doc.xpath(machine):
        node.drop_tree()
    found = []
    for node in doc.iter():
        if not isinstance(node.tag, str):
            continue
        found.extend((node.tag, text.strip()) for text in (node.text, node.tail) if text and text.strip())
        for name, value in node.attrib.items():
            if (name in READ_ATTRIBUTES
                    or (name == "value" and node.tag == "input" and node.get("type") in ("submit", "button"))
                    or (name == "content" and node.tag == "meta" and (
                        node.get("name") == "description" or (node.get("property") or "").startswith("og:")))
                    or (name.startswith("data-") and " " in value and "/" not in value)):
                found.append((f"{node.tag}@{name}", value))
    return found


def english_in(body: str, stored: list[str]) -> list[tuple[str, str]]:
    problems = []
    for where, text in _readable(body):
        plain = text
        for known in (*stored, *ALLOWED):
            if known in plain:
                plain = plain.replace(known, " ")
        plain = re.sub(r"\S+@\S+|\S+://\S+|/[\w/.?=&%#-]+", " ", plain)  # addresses, links, paths
        if any(pattern.search(plain) for pattern in (ENGLISH, CODE, ISO_DATE, ENGLISH_MONEY)):
            problems.append((where, text))
    return problems


def test_the_word_list_holds_no_word_of_the_indonesian_catalog():
    """Every word listed is English only: none appears in an Indonesian translation."""
    with (ROOT / "translations" / "id" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    for message in catalog:
        # The header, and the messages that list the values a query parameter takes: they are
        # typed in the address as they are ("Gunakan published atau closed.").
        if not message.id or message.id in PARAMETER_VALUES:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            words = re.sub(r"`[^`]*`", " ", PLACEHOLDER.sub(" ", string or ""))  # `next`: a name in code
            assert not ENGLISH.search(words), (message.id, string)


def test_every_page_is_requested(world):
    """A page whose path variables the world cannot fill would go unchecked: fill it here."""
    wanted = {rule.endpoint for rule in world.shared.app.url_map.iter_rules()
              if "GET" in rule.methods and rule.endpoint not in SKIPPED_ENDPOINTS
              and not rule.rule.startswith("/api/") and not rule.rule.endswith(MACHINE_SUFFIXES)}
    requested = {endpoint for endpoint, _url, _post in world.data["pages"]}
    assert wanted - requested == set()


def test_the_check_finds_english(world):
    found = english_in('<p>Thank you for your donation.</p><p title="Back">Kembali</p><p>2027-04-04</p>'
                       '<p lang="en">Sandbox</p><code>direct_aid</code><p>direct_aid</p><p>IDR 1,500</p>',
                       world.data["stored"])
    assert [text for _where, text in found] == ["Thank you for your donation.", "Back", "2027-04-04",
                                                "direct_aid", "IDR 1,500"]


@pytest.mark.parametrize("role", ROLES)
def test_pages_in_indonesian_hold_no_english(world, role):
    user_id = world.data["people"][role] if role != "anonymous" else None
    problems = []
    with world.shared.test() as app:
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "id"
        if user_id is not None:
            with app.app_context():
                login(client, db.session.get(User, user_id))
        with client.session_transaction() as session:
            session["lang"] = "id"
        for endpoint, url, takes_post in world.data["pages"]:
            for method in ("GET", "POST") if takes_post else ("GET",):
                response = client.open(url, method=method, data={} if method == "POST" else None)
                with response:  # a served file is closed too
                    if 300 <= response.status_code < 400 or "text/html" not in response.content_type:
                        continue
                    problems.extend(f"{method} {url} ({endpoint}) {where}: {text!r}"
                                    for where, text in english_in(response.get_data(as_text=True),
                                                                  world.data["stored"]))
    assert not problems, "\n".join(sorted(set(problems))[:40])
