"""Templates compiled per language (amanah.translated_templates) render exactly as Flask would."""
import pytest
from flask import render_template_string
from flask_babel import force_locale

from amanah.extensions import db
from amanah.translated_templates import _environment, render_translated
from ledger import checkpoints
from tests.factories.ledger import fill, html

SOURCE = """
<p>{{ _("Fields") }}|{{ _("Ledger entry %(seq)d", seq=seq) }}|{{ _("Entry %(seq)d", seq=seq) }}</p>
<p>{{ _("There is no entry %(seq)s.", seq=evil) }}</p>
<p>{{ _(variable_message) }}|{{ gettext("Fields") }}|{{ _("Not in any catalog: 100%% & <b>") }}</p>
<p title="{{ _('Proof hashes') }}">{{ ngettext("%(num)d day left", "%(num)d days left", 3) }}</p>
{% autoescape false %}<p>{{ _("There is no entry %(seq)s.", seq=evil) }}</p>{% endautoescape %}
"""


@pytest.mark.parametrize("locale", ["id", "en"])
def test_translated_at_compile_time_renders_as_gettext_at_run_time(app, locale):
    context = {"seq": 7, "evil": "<script>&", "variable_message": "Fields"}
    with app.test_request_context("/"), force_locale(locale):
        expected = render_template_string(SOURCE, **context)
        compiled = _environment(locale).from_string(SOURCE).render(**context)
    assert compiled == expected
    assert "&lt;script&gt;&amp;" in compiled and "<script>&" in compiled  # escaped, except where not
    assert "Not in any catalog: 100% & <b>" in compiled  # a translation is markup, "%%" is "%"
    assert ("Entri buku besar 7" if locale == "id" else "Ledger entry 7") in compiled


def test_constant_strings_are_compiled_into_the_template(app):
    with app.test_request_context("/"), force_locale("id"):
        code = _environment("id").compile('{{ _("Fields") }}', raw=True)
    assert "yield 'Isian'" in code and "resolve('_')" not in code


@pytest.mark.parametrize("locale", ["id", "en"])
@pytest.mark.parametrize("path", ["/ledger/entries/3", "/ledger", "/ledger?kind=donation",
                                  "/ledger/campaigns/camp00000001"])
def test_ledger_pages_are_byte_for_byte_what_render_template_gives(app, client, monkeypatch, locale, path):
    from flask import render_template

    import ledger.pages
    with app.app_context():
        fill(12)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
    client.set_cookie("lang", locale)
    translated = html(client.get(path))
    app.extensions.pop("ledger.fragments", None)
    monkeypatch.setattr(ledger.pages, "render_translated", render_template)
    plain = html(client.get(path))
    assert f'lang="{locale}"' in translated
    assert translated == plain


def test_development_reloads_templates_and_renders_plainly(app, monkeypatch):
    monkeypatch.setattr(app.jinja_env, "auto_reload", True)
    with app.test_request_context("/"), force_locale("en"):
        assert render_translated("ledger/page.html", title="t", content="c").count("<html") == 1
    assert "amanah.translated_templates" not in app.extensions
