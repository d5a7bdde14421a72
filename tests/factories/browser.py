"""Playwright driving Debian's Chromium, headless, with no network beyond this machine."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def chromium_page(locale: str = "id-ID"):
    if not shutil.which(CHROMIUM):
        # In CI this cannot happen: .ci/run installs Debian's chromium before running the suite.
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="amanah-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, locale=locale)
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(15_000)
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def chromium_browser():
    """One headless Chromium for a whole module: each visitor gets a context of its own
    (`browser.new_context(...)`), which costs milliseconds where a browser costs a second."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


AXE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "vendor", "axe-core", "axe.min.js")
# WCAG 2.0 and 2.1, levels A and AA: what the site promises (STYLE.md, CONTEXT: accessible pages).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(
      n => n.target.join(" ") + " :: " + n.failureSummary.split("\\n").slice(1).join(" "))}));
}"""


def axe_violations(page) -> list[dict]:
    """axe-core (vendored from its npm package, tests/vendor/axe-core) run over the page as it
    is now. The script goes in through the DevTools protocol (page.evaluate), which the page's
    Content-Security-Policy does not govern: the policy stays on for the page itself."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        with open(AXE_PATH, encoding="utf-8") as f:
            page.evaluate(f.read())
    return page.evaluate(_AXE_RUN, AXE_TAGS)


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: it fits).

    After a click, wait_for_selector returns once the element is in the DOM, which can be before
    the new page's stylesheets apply: measured then, an unstyled page overflows (a CI run under
    load saw the confirm page 18 px too wide). The load event comes after every stylesheet."""
    page.wait_for_load_state("load")
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
