import pytest

from tests.factories.browser import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_home_page_language_switch_in_a_real_browser(live_server):
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(live_server.url + "/")
        assert page.locator("html").get_attribute("lang") == "id"
        heading = page.get_by_role("heading", level=1)
        assert heading.inner_text() == "Berdonasi dengan amanah. Lihat setiap rupiahnya."
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", level=1).inner_text() == "Give in trust. See every rupiah."
        # Keyboard users reach the content directly.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        assert errors == [], errors
