"""Accessibility in a real browser: axe-core on the inbox, the monitor, the conversation page and
the customer widget, in Spanish and English (zero serious or critical violations), and a
keyboard-only Collaborator who picks up, answers and resolves a chat.

axe-core 4.14.1 (MPL-2.0) ships with the tests in tests/browser/vendor/ (no CDN).
"""
from __future__ import annotations

import json

from tests.browser.harness import (ARTIFACTS, CHROMIUM, LAUNCH_ARGS, LiveBrowserTestCase, axe_problems, browser_marks,
                                   orm)

KEY = "a11y-test-widget"
pytestmark = browser_marks


class AccessibilityBrowserTest(LiveBrowserTestCase):
    def setUp(self):
        from apps.conversations import services
        from apps.conversations.models import Message, Status
        from tests.factories import conversation_in, make_cast

        self.cast = make_cast()
        self.cast.channel.config = {"public_key": KEY, "allowed_origins": [self.live_server_url]}
        self.cast.channel.save()
        self.queued = conversation_in(self.cast, Status.UNASSIGNED, department=self.cast.dept_a,
                                      text="Mi router <b>no</b> enciende <script>alert(1)</script>")
        self.mine = conversation_in(self.cast, Status.IN_PROGRESS, department=self.cast.dept_a,
                                    assignee=self.cast.collab_a, contact=self.cast.other_customer)
        Message.objects.create(conversation=self.mine, author_kind="ai_agent", body="Probá reiniciar el router.")
        services.message_send_human(conversation=self.mine, user=self.cast.collab_a, body="Te ayudo ahora.")
        ARTIFACTS.mkdir(exist_ok=True)

    def test_axe_on_every_page_in_both_languages(self):
        from playwright.sync_api import expect, sync_playwright

        cast = self.cast
        pages = [
            (cast.collab_a, "/inbox/", "inbox"),
            (cast.collab_a, f"/conversations/{self.mine.pk}/", "conversation"),
            (cast.operator, "/workspace/monitor/", "monitor"),
        ]
        problems = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                for locale, lang in (("es-AR", "es"), ("en-US", "en")):
                    for user, path, label in pages:
                        page = self.login(browser, user, path, locale=locale, wait_live=False)
                        assert page.evaluate("document.documentElement.lang") == lang
                        found = axe_problems(page, f"{label}-{lang}", preload=False)
                        if found:
                            problems[f"{label}-{lang}"] = found
                        page.context.close()
                    context = browser.new_context(locale=locale)
                    widget = context.new_page()
                    widget.goto(f"{self.live_server_url}/workspace/widget-demo/?key={KEY}&lang={lang}")
                    # The launcher must exist (in the page's language, from the catalogue) and open the panel.
                    launcher = widget.locator("button.launcher")
                    expect(launcher).to_be_visible(timeout=10_000)
                    expect(launcher).to_have_text({"es": "Chateá con nosotros", "en": "Chat with us"}[lang])
                    launcher.click()
                    expect(widget.locator("#asiste-panel")).to_be_visible()
                    expect(launcher).to_have_attribute("aria-expanded", "true")
                    expect(widget.locator("#asiste-input")).to_be_focused()
                    found = axe_problems(widget, f"widget-{lang}", preload=False)
                    if found:
                        problems[f"widget-{lang}"] = found
                    context.close()
            finally:
                browser.close()
        assert not problems, json.dumps(problems, indent=1)



class KeyboardOnlyBrowserTest(AccessibilityBrowserTest):
    """Its own class, so its own live server (one browser scenario per server process)."""

    test_axe_on_every_page_in_both_languages = None

    def test_keyboard_only_pickup_answer_resolve(self):
        """Only Tab, typing and Enter: from the inbox to a resolved chat."""
        from playwright.sync_api import expect, sync_playwright

        from apps.conversations.models import Channel
        from apps.departments.models import Department

        # A web chat the bot cannot answer goes to Technical Support (where collab_a works).
        Department.objects.update(is_default=False)
        Department.objects.filter(pk=self.cast.dept_a.pk).update(is_default=True)
        Channel.objects.filter(pk=self.cast.channel.pk).update(default_department=self.cast.dept_a)

        from apps.conversations.models import Conversation, Status

        cast, conv = self.cast, self.queued

        from playwright.sync_api import Error as PlaywrightError

        def focus(page, predicate_js: str, limit: int = 80) -> str:
            page.wait_for_load_state()
            for _ in range(limit):
                page.keyboard.press("Tab")
                try:
                    if page.evaluate(predicate_js):
                        return page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
                except PlaywrightError:  # a navigation (the previous submit) landed meanwhile
                    page.wait_for_load_state()
            raise AssertionError(f"never reached by keyboard: {predicate_js}")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                # Signed in as usual; from the inbox on, only the keyboard is used.
                page = self.login(browser, cast.collab_a, "/inbox/")
                page.evaluate("document.activeElement && document.activeElement.blur()")
                # The queued chat's link, reached and followed by keyboard.
                focus(page, f"document.activeElement.tagName === 'A' && "
                            f"document.activeElement.getAttribute('href') === '/conversations/{conv.pk}/'")
                # Next in the row: its Pick up button. A chat arriving meanwhile refreshes the lists
                # live: the change is announced and the focus stays on that button.
                page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.id") == f"pickup-{conv.pk}"
                page.evaluate(f"window.__oldPickup = document.getElementById('pickup-{conv.pk}')")
                # (The change must happen in the server process, whose channel layer reaches the page:
                # a customer asks for a person in the widget and the bot hands the chat to Technical
                # Support, the default department. "Otra consulta, por favor" did so only while it read
                # as a request for a person, 0.52; it now gets a clarifying question.)
                customer = browser.new_context(locale="es-AR").new_page()
                customer.goto(f"{self.live_server_url}/workspace/widget-demo/?key={KEY}")
                customer.locator("button.launcher").click()
                customer.locator("#asiste-input").fill("Quiero hablar con una persona, por favor")
                customer.locator("#asiste-input").press("Enter")
                newcomer = self.wait_db(lambda: Conversation.objects.filter(status=Status.UNASSIGNED)
                                        .exclude(pk=conv.pk).first(), "a second chat in the queue", timeout=30)
                expect(page.locator(f"#queue-row-{newcomer.pk}, #mine-row-{newcomer.pk}")).to_have_count(1, timeout=10_000)
                # The region really was replaced (a new button), and the focus followed it.
                page.wait_for_function(f"() => window.__oldPickup !== document.getElementById('pickup-{conv.pk}')")
                page.wait_for_function("() => document.activeElement && document.activeElement.id === 'pickup-%d'" % conv.pk,
                                       timeout=5_000)
                expect(page.locator("#live-announcer")).to_have_text("Queue updated.", timeout=5_000)
                page.keyboard.press("Shift+Tab")
                assert page.evaluate("document.activeElement.getAttribute('href')") == f"/conversations/{conv.pk}/"
                page.keyboard.press("Enter")
                page.wait_for_url(f"{self.live_server_url}/conversations/{conv.pk}/")
                focus(page, "document.activeElement.tagName === 'BUTTON' && "
                            "/pick up/i.test(document.activeElement.textContent)")
                page.keyboard.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).status == Status.ASSIGNED, "pickup")
                page.wait_for_url(f"{self.live_server_url}/conversations/{conv.pk}/")
                page.wait_for_timeout(300)
                focus(page, "document.activeElement.tagName === 'TEXTAREA'")
                page.keyboard.type("Hola, ya reviso tu router.")
                focus(page, "document.activeElement.tagName === 'BUTTON' && "
                            "/^\\s*send\\s*$/i.test(document.activeElement.textContent)", limit=10)
                page.keyboard.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).status == Status.IN_PROGRESS, "reply")
                page.wait_for_timeout(300)
                page.wait_for_load_state()
                focus(page, "document.activeElement.tagName === 'BUTTON' && "
                            "/resolve/i.test(document.activeElement.textContent)")
                page.keyboard.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).status == Status.ARCHIVED, "archive")
                try:  # an artifact for people; the assertions above and below are the test
                    page.screenshot(path=str(ARTIFACTS / "keyboard-resolved.png"))
                except PlaywrightError:
                    pass
            finally:
                browser.close()
        messages = orm(lambda: list(Conversation.objects.get(pk=conv.pk).messages.filter(author_kind="human")
                                    .values_list("body", flat=True)))
        assert messages == ["Hola, ya reviso tu router."]
