"""Templates compiled once per language, with their fixed strings translated while compiling.

`{{ _("Fields") }}` costs a page three nested calls through Jinja's gettext wrappers and a catalog
lookup on every rendering; on an uncached ledger entry page the thirty-odd such strings were about
a tenth of the request. Here each language gets its own overlay of the app's Jinja environment
whose parser replaces every `_("constant", name=value, ...)` by what newstyle gettext would return:
the translation, marked safe when autoescaping, %-formatted with the (escaped) values. Jinja's
optimizer then folds the constant ones into the template's static text.

Only `_`/`gettext` with a literal string are translated early; anything else (a variable message,
ngettext, pgettext) is left to the runtime callables as before. The rewrite does not look at
scopes: a template that rebinds `_` or `gettext` (`{% set _ = ... %}`, a loop or macro argument of
that name) must not be rendered through here. The output is byte for byte what
`render_template` gives (tests/test_translated_templates.py checks every ledger template).
"""
from __future__ import annotations

import threading

from flask import current_app, render_template
from flask.templating import _render
from flask_babel import force_locale, get_translations
from jinja2 import nodes
from jinja2.parser import Parser
from jinja2.visitor import NodeTransformer

from amanah.i18n import current_locale

_KEY = "amanah.translated_templates"
_lock = threading.Lock()


class _TranslateConstants(NodeTransformer):
    def __init__(self, translations):
        self.translations = translations

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)
        named = isinstance(node.node, nodes.Name) and node.node.name in ("_", "gettext")
        if not (named and len(node.args) == 1 and isinstance(node.args[0], nodes.Const)
                and isinstance(node.args[0].value, str) and node.dyn_args is None
                and node.dyn_kwargs is None):
            return node
        lineno = node.lineno
        text = nodes.MarkSafeIfAutoescape(nodes.Const(self.translations.ugettext(node.args[0].value),
                                                      lineno=lineno), lineno=lineno)
        # Newstyle gettext always %-formats, also without variables ("100%%" becomes "100%").
        values = nodes.Dict([nodes.Pair(nodes.Const(kw.key, lineno=lineno), kw.value, lineno=lineno)
                             for kw in node.kwargs], lineno=lineno)
        return nodes.Mod(text, values, lineno=lineno)


def _environment(locale: str):
    """The app's Jinja environment, overlaid for `locale` (built once per language and app)."""
    environments = current_app.extensions.setdefault(_KEY, {})
    found = environments.get(locale)
    if found is not None:
        return found
    with _lock:
        found = environments.get(locale)
        if found is None:
            with force_locale(locale):
                translations = get_translations()
            base = current_app.jinja_env
            capacity = getattr(base.cache, "capacity", 400) if base.cache is not None else 0
            found = base.overlay(cache_size=capacity)
            # A bytecode cache's keys ignore the environment: it would mix languages.
            found.bytecode_cache = None

            def parse(source, name, filename):
                tree = Parser(found, source, name, filename).parse()
                tree = _TranslateConstants(translations).visit(tree)
                tree.set_environment(found)
                return tree

            found._parse = parse
            environments[locale] = found
    return found


def render_translated(template: str, **context) -> str:
    """render_template(template, **context) in the current language, from the translated overlay.

    Where the app reloads templates (development), this is plain render_template."""
    if current_app.jinja_env.auto_reload:
        return render_template(template, **context)
    app = current_app._get_current_object()
    environment = _environment(current_locale())
    return _render(app, environment.get_or_select_template(template), context)
