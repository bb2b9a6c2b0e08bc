"""The remaining staff pages in a real browser (issue 15): the styled 403, 404 and 500 pages, the
preferences and availability pages and the sign-in page, in Spanish and English: axe-core finds no
serious or critical problem, and none scrolls sideways at 1366 or 375 px (screenshots in
test-artifacts/)."""
from __future__ import annotations

import json

from tests.browser.harness import CHROMIUM, LAUNCH_ARGS, LiveBrowserTestCase, axe_problems, browser_marks, too_wide

pytestmark = browser_marks


class MorePagesBrowserTest(LiveBrowserTestCase):
    # One URL that raises, so the live server shows its real 500 page.
    server_settings = {"ROOT_URLCONF": "tests.browser.urls_500"}

    def setUp(self):
        from tests.browser.harness import ARTIFACTS
        from tests.factories import make_cast

        self.cast = make_cast()
        ARTIFACTS.mkdir(exist_ok=True)

    def test_error_account_and_login_pages_in_both_languages(self):
        from playwright.sync_api import sync_playwright

        # (path, label, status) opened by a Collaborator: the monitor is for Operators only (403),
        # the conversation does not exist (404).
        signed_in = [("/workspace/monitor/", "error-403", 403), ("/conversations/999999/", "error-404", 404),
                     ("/test-500/", "error-500", 500), ("/account/preferences/", "preferences", 200),
                     ("/routing/presence/", "presence", 200)]
        problems, wide, statuses = {}, {}, {}

        def check(page, label, lang):
            assert page.evaluate("document.documentElement.lang") == lang, label
            found = axe_problems(page, f"{label}-{lang}")
            if found:
                problems[f"{label}-{lang}"] = found
            wide.update(too_wide(page, f"{label}-{lang}"))

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                for locale, lang in (("es-AR", "es"), ("en-US", "en")):
                    # Signed out: the sign-in page.
                    context = browser.new_context(locale=locale)
                    page = context.new_page()
                    statuses[f"login-{lang}"] = page.goto(f"{self.live_server_url}/login/").status
                    check(page, "login", lang)
                    context.close()
                    page = self.login(browser, self.cast.collab_a, "/account/preferences/", locale=locale,
                                      wait_live=False)
                    for path, label, status in signed_in:
                        page.set_viewport_size({"width": 1280, "height": 860})
                        got = page.goto(f"{self.live_server_url}{path}").status
                        if got != status:
                            statuses[f"{label}-{lang}"] = got
                        check(page, label, lang)
                    page.context.close()
            finally:
                browser.close()
        assert statuses == {"login-es": 200, "login-en": 200}, statuses
        assert not problems, json.dumps(problems, indent=1)
        assert not wide, wide
