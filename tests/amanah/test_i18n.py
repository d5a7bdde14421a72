"""Indonesian and English ship together: every string in the code has its Indonesian translation."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
SOURCES = ["accounts", "amanah", "campaigns", "documents", "donations", "ledger", "organizations", "reports",
           "treasury",
           "templates"]


def read_catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "-o", str(pot), "--no-location", *(s for s in SOURCES if (ROOT / s).exists())],
                   cwd=ROOT, check=True, capture_output=True)
    return {m.id if isinstance(m.id, str) else m.id[0] for m in read_catalog(pot) if m.id}


@pytest.mark.parametrize("lang", ["id", "en"])
def test_catalog_holds_every_string_of_the_code(extracted, lang):
    catalog = read_catalog(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po")
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    missing = sorted(extracted - known)
    assert not missing, f"run `make messages` and translate: {missing[:10]}"


def test_every_indonesian_string_is_translated(extracted):
    catalog = read_catalog(ROOT / "translations" / "id" / "LC_MESSAGES" / "messages.po")
    untranslated = [m.id for m in catalog if m.id and m.id in extracted
                    and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, untranslated[:10]
    assert not fuzzy, fuzzy[:10]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_compiled_catalog_matches_its_source(lang):
    """The .mo files are build products of the install step; a stale one would show old text."""
    folder = ROOT / "translations" / lang / "LC_MESSAGES"
    source = {}
    for m in read_catalog(folder / "messages.po"):
        if not m.id:
            continue
        if isinstance(m.id, tuple):  # a plural entry: Babel compiles an untranslated one as its msgids
            source[m.id] = tuple(m.string) if all(m.string) else m.id
        elif m.string:
            source[m.id] = m.string
    with (folder / "messages.mo").open("rb") as f:
        compiled = {tuple(m.id) if isinstance(m.id, list) else m.id:
                    tuple(m.string) if isinstance(m.string, list) else m.string for m in read_mo(f) if m.id}
    assert compiled == source, "run `make translations`"


def test_format_placeholders_survive_translation():
    catalog = read_catalog(ROOT / "translations" / "id" / "LC_MESSAGES" / "messages.po")
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, message.id


def test_templates_follow_force_locale_within_one_request(app):
    """Templates look translations up once per locale and request, yet mail sent in the recipient's
    language (force_locale) inside a request still switches, and switches back."""
    from flask import render_template_string
    from flask_babel import force_locale

    template = "{{ _('Home') }}|{{ ngettext('%(num)d entry', '%(num)d entries', 2) }}"
    with app.test_request_context("/", headers={"Accept-Language": "id"}):
        before = render_template_string(template)
        with force_locale("en"):
            forced = render_template_string(template)
        after = render_template_string(template)
    assert before == after != forced
    assert forced.startswith("Home|")
    assert before.startswith("Beranda|")


def test_indonesian_uses_one_word_for_refund():
    """Everywhere else a refund is "pengembalian dana"; the English word left in one place read as a slip."""
    catalog = read_catalog(ROOT / "translations" / "id" / "LC_MESSAGES" / "messages.po")
    english = [m.string for m in catalog
               if m.id and isinstance(m.string, str) and re.search(r"(?i)\brefund", m.string)]
    assert not english, english
