"""The one-screen inbox in a real browser (issue 15): a Collaborator works a chat by keyboard only
(pick up from the list, read the timeline, "/" saved reply, private note, label, Enter to send,
resolve), a customer sends a photo from the widget and the agent opens it; screenshots at 1366 and
375 px in test-artifacts/; axe-core finds no serious or critical problem on the new pages in
Spanish and English."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tests.browser.harness import (ARTIFACTS, CHROMIUM, LAUNCH_ARGS, LiveBrowserTestCase, axe_problems, browser_marks, orm,
                                   too_wide)

PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "router-lights.jpg"
KEY = "workspace-flow-widget"
pytestmark = browser_marks


class WorkspaceKeyboardFlowTest(LiveBrowserTestCase):
    def setUp(self):
        from apps.conversations.models import Status
        from apps.workspace.models import Label, SavedReply
        from tests.factories import conversation_in, make_cast

        self.cast = make_cast()
        self.cast.channel.config = {"public_key": KEY, "allowed_origins": [self.live_server_url]}
        self.cast.channel.save()
        self.label = Label.objects.create(name="router", color="blue")
        SavedReply.objects.create(title="Reinicio", shortcut="reinicio", department=self.cast.dept_a,
                                  body="Hola {customer_name}, soy {agent_name}. Desenchufá el módem 30 segundos.")
        self.conv = conversation_in(self.cast, Status.UNASSIGNED, department=self.cast.dept_a,
                                    text="Las luces del router parpadean en rojo")
        ARTIFACTS.mkdir(exist_ok=True)

    @staticmethod
    def refresh_composer(page, attempts: int = 3):
        """A live refresh of the composer, as a signal triggers it: the old block is marked and
        replaced. A refresh the page dropped (the live layer sends the next signal in production) is
        triggered again: what the walk asserts is the state after a refresh, not that every one lands."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        for attempt in range(attempts):
            page.evaluate("""() => {
                const old = document.getElementById('conv-actions');
                old.dataset.stale = '1';
                htmx.trigger(old, 'asiste:refresh');
            }""")
            try:
                page.wait_for_function("""() => {
                    const now = document.getElementById('conv-actions');
                    return now && !now.dataset.stale && !now.classList.contains('htmx-settling');
                }""", timeout=10_000)
                return
            except PlaywrightTimeout:
                if attempt == attempts - 1:
                    raise

    def test_keyboard_only_one_screen_flow(self):
        from playwright.sync_api import expect, sync_playwright

        from apps.conversations.models import Conversation, Message, Status
        from apps.routing.models import Notification
        from apps.workspace.models import ConversationLabel

        cast, conv = self.cast, self.conv
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                page = self.login(browser, cast.collab_a, "/inbox/")
                kb = page.keyboard
                page.evaluate("document.activeElement && document.activeElement.blur()")
                # Pick up from the list: "j" focuses the first row, Tab its Pick up button, Enter.
                kb.press("j")
                assert page.evaluate("document.activeElement.id") == f"queue-link-{conv.pk}"
                kb.press("Tab")
                assert page.evaluate("document.activeElement.id") == f"pickup-{conv.pk}"
                kb.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).status == Status.ASSIGNED, "pickup")
                page.wait_for_url(f"{self.live_server_url}/conversations/{conv.pk}/")
                # The one screen: list, conversation and side panel; the timeline explains the route.
                expect(page.locator(f"#mine-row-{conv.pk}")).to_have_class(re.compile(r"\bis-current\b"))
                for kind in ("handoff", "queued", "picked_up"):
                    expect(page.locator(f'#conv-messages [data-event-kind="{kind}"]')).to_have_count(1)
                expect(page.locator("#customer-h")).to_be_visible()
                # The reply box has the focus; "/" opens the saved replies, Enter inserts one.
                page.wait_for_function("() => document.activeElement && document.activeElement.id === 'reply-body'")
                kb.type("/rein")
                expect(page.locator("#saved-menu [role=option]")).to_have_count(1)
                kb.press("Enter")
                expect(page.locator("#reply-body")).to_have_value(
                    "Hola Carla Customer, soy Collab_A. Desenchufá el módem 30 segundos.")
                kb.press("Enter")  # sends
                self.wait_db(lambda: Message.objects.filter(conversation=conv, author_kind="human",
                                                            is_internal=False).exists(), "the reply")
                expect(page.locator("#reply-body")).to_have_value("")
                # A private note: Esc leaves the box, "n" switches to a note.
                kb.press("Escape")
                kb.press("n")
                expect(page.locator("#reply-note")).to_be_checked()
                # A live refresh of the composer (another signal arriving) keeps the note chosen
                # and the focus in the box.
                self.refresh_composer(page)
                expect(page.locator("#reply-note")).to_be_checked()
                page.wait_for_function("() => document.activeElement && document.activeElement.id === 'reply-body'")
                # "@" in a note offers the colleagues who can see the chat (not the writer, not
                # Sales); Esc closes the list, Tab inserts the chosen "@username ".
                kb.type("Ya reinició el router antes de escribir; @coll")
                expect(page.locator("#saved-menu [role=option]")).to_have_count(1)
                expect(page.locator("#saved-menu [role=option]")).to_contain_text("@collab_ab")
                expect(page.locator("#saved-menu")).to_have_attribute("aria-label", "Colleagues who can see this conversation")
                kb.press("Escape")
                expect(page.locator("#saved-menu")).to_be_hidden()
                for _ in range(5):
                    kb.press("Backspace")
                kb.type("@ope")
                expect(page.locator("#saved-menu [role=option]")).to_have_count(1)
                expect(page.locator("#reply-body")).to_have_attribute("aria-activedescendant", f"mention-opt-{cast.operator.pk}")
                # The list fits a 375 px phone screen.
                page.set_viewport_size({"width": 375, "height": 800})
                page.locator("#reply-body").scroll_into_view_if_needed()
                expect(page.locator("#saved-menu [role=option]")).to_be_visible()
                menu_box = page.locator("#saved-menu").bounding_box()
                assert menu_box["x"] >= 0 and menu_box["x"] + menu_box["width"] <= 375, menu_box
                assert page.evaluate("document.documentElement.scrollWidth") <= 375
                page.screenshot(path=str(ARTIFACTS / "workspace-mention-375.png"))
                page.set_viewport_size({"width": 1280, "height": 860})
                kb.press("Tab")
                expect(page.locator("#reply-body")).to_have_value("Ya reinició el router antes de escribir; @operator ")
                kb.type("revisar la OLT.")
                kb.press("Enter")
                note = self.wait_db(lambda: Message.objects.filter(conversation=conv, is_internal=True).first(),
                                    "the note")
                expect(page.locator(f"#msg-{note.pk}.msg-internal .note-tag")).to_be_visible(timeout=10_000)
                expect(page.locator(f"#msg-{note.pk} .mention")).to_have_text("@operator")
                self.wait_db(lambda: Notification.objects.filter(user=cast.operator, kind="mention",
                                                                 conversation=conv).exists(), "the mention notice")
                # A label: Esc, "l" focuses the label picker, arrow to "router", Tab to Add, Enter.
                kb.press("Escape")
                kb.press("l")
                assert page.evaluate("document.activeElement.id") == "label-add-select"
                kb.press("ArrowDown")
                kb.press("Tab")
                kb.press("Enter")
                self.wait_db(lambda: ConversationLabel.objects.filter(conversation=conv, label=self.label).exists(),
                             "the label")
                page.wait_for_url(f"{self.live_server_url}/conversations/{conv.pk}/")
                expect(page.locator("#conv-labels .chip")).to_contain_text("router")
                expect(page.locator(f"#mine-row-{conv.pk} .chip")).to_have_text("router")
                # Snooze: "z" opens the menu on its first choice ("In 1 hour"), Enter snoozes; the chat
                # leaves the open list, the panel says until when, the timeline says who.
                page.evaluate("document.activeElement && document.activeElement.blur()")
                kb.press("z")
                assert page.evaluate("document.activeElement.id") == "snooze-1h"
                kb.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).snoozed_until is not None, "the snooze")
                page.wait_for_url(f"{self.live_server_url}/conversations/{conv.pk}/")
                expect(page.locator("#snoozed-note")).to_be_visible()
                expect(page.locator(f"#mine-row-{conv.pk}")).to_have_count(0)
                expect(page.locator('#conv-messages [data-event-kind="snoozed"]')).to_have_count(1)
                # "?" shows the shortcuts; Esc closes them.
                page.evaluate("document.activeElement && document.activeElement.blur()")
                kb.press("?")
                expect(page.locator("#shortcuts")).to_be_visible()
                kb.press("Escape")
                expect(page.locator("#shortcuts")).to_be_hidden()
                for width in (1366, 375):
                    page.set_viewport_size({"width": width, "height": 900})
                    page.wait_for_timeout(200)  # layout only (the assertions are above and below)
                    page.screenshot(path=str(ARTIFACTS / f"workspace-conversation-{width}.png"))
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.set_viewport_size({"width": 1280, "height": 860})
                # Unsnooze: back in the open list.
                page.locator("#unsnooze-button").focus()
                kb.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).snoozed_until is None, "the unsnooze")
                page.wait_for_url(f"{self.live_server_url}/conversations/{conv.pk}/")
                expect(page.locator(f"#mine-row-{conv.pk}")).to_have_count(1)
                # Resolve: Tab to the button, Enter.
                page.locator("#reply-body").focus()
                for _ in range(30):
                    kb.press("Tab")
                    if page.evaluate("document.activeElement.id") == "conv-archive":
                        break
                assert page.evaluate("document.activeElement.id") == "conv-archive"
                kb.press("Enter")
                self.wait_db(lambda: Conversation.objects.get(pk=conv.pk).status == Status.ARCHIVED, "resolve")
            finally:
                browser.close()
        sent = orm(lambda: list(Message.objects.filter(conversation=conv, author_kind="human")
                                .values_list("body", "is_internal")))
        assert sent == [("Hola Carla Customer, soy Collab_A. Desenchufá el módem 30 segundos.", False),
                        ("Ya reinició el router antes de escribir; @operator revisar la OLT.", True)]

    def test_axe_and_narrow_screens_on_the_new_pages(self):
        from playwright.sync_api import sync_playwright

        from datetime import timedelta

        from django.utils import timezone

        from apps.conversations import services
        from apps.conversations.models import Status
        from tests.factories import conversation_in

        cast = self.cast
        snoozed = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
        services.conversation_snooze(conversation=snoozed, user=cast.operator, until=timezone.now() + timedelta(hours=2))
        pages = [("/inbox/?q=router", "ws-search"), (f"/conversations/{self.conv.pk}/", "ws-conversation"),
                 ("/workspace/saved-replies/mine/", "ws-saved-replies"), ("/inbox/?tab=snoozed", "ws-snoozed"),
                 (f"/conversations/{snoozed.pk}/", "ws-snoozed-conversation")]
        problems, wide = {}, {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                for locale, lang in (("es-AR", "es"), ("en-US", "en")):
                    for path, label in pages:
                        page = self.login(browser, cast.operator, path, locale=locale, wait_live=False)
                        assert page.evaluate("document.documentElement.lang") == lang
                        found = axe_problems(page, f"{label}-{lang}")
                        if found:
                            problems[f"{label}-{lang}"] = found
                        wide.update(too_wide(page, f"{label}-{lang}"))
                        page.context.close()
            finally:
                browser.close()
        assert not problems, json.dumps(problems, indent=1)
        assert not wide, wide


    def test_operator_pages_fit_wide_and_narrow_screens(self):
        """The monitor, reports, conversation list and notifications fit 1366 and 375 px in both
        languages: a wide table scrolls inside its own box (its visually hidden labels too) instead
        of widening the page; department names are read in the page's language."""
        from playwright.sync_api import sync_playwright

        from apps.conversations.models import Status
        from apps.reports.rollups import reports_refresh
        from tests.factories import conversation_in

        cast = self.cast
        cast.dept_a.name_es = "Soporte Técnico"
        cast.dept_a.save()
        for status, dept, who in ((Status.ASSIGNED, cast.dept_a, cast.collab_a), (Status.IN_PROGRESS, cast.dept_b,
                                  cast.collab_b), (Status.ARCHIVED, cast.dept_a, cast.collab_ab),
                                  (Status.UNASSIGNED, cast.dept_b, None)):
            conversation_in(cast, status, department=dept, assignee=who)
        orm(lambda: reports_refresh(settle_seconds=0))
        pages = ["/workspace/monitor/", "/reports/", "/conversations/", "/routing/notifications/"]
        wide_pages, names = {}, {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                for locale, lang in (("es-AR", "es"), ("en-US", "en")):
                    for path in pages:
                        page = self.login(browser, cast.operator, path, locale=locale, wait_live=False)
                        if path in ("/workspace/monitor/", "/reports/"):
                            names[f"{path}-{lang}"] = page.locator("main").inner_text()
                        for width in (1366, 375):
                            page.set_viewport_size({"width": width, "height": 900})
                            page.wait_for_timeout(150)  # layout only
                            wide = page.evaluate("document.documentElement.scrollWidth")
                            if wide > width:
                                wide_pages[f"{path}-{lang}-{width}"] = wide
                                page.screenshot(path=str(ARTIFACTS / f"too-wide-{path.strip('/').replace('/', '-')}"
                                                                       f"-{lang}-{width}.png"), full_page=True)
                        page.context.close()
            finally:
                browser.close()
        assert not wide_pages, wide_pages
        for path in ("/workspace/monitor/", "/reports/"):
            assert "Soporte Técnico" in names[f"{path}-es"] and "Technical Support" not in names[f"{path}-es"], path
            assert "Technical Support" in names[f"{path}-en"], path


class WidgetPhotoTest(LiveBrowserTestCase):
    def setUp(self):
        from tests.factories import make_cast

        self.cast = make_cast()
        self.cast.channel.config = {"public_key": KEY, "allowed_origins": [self.live_server_url]}
        self.cast.channel.save()
        ARTIFACTS.mkdir(exist_ok=True)

    def test_a_customer_sends_a_photo_and_the_agent_opens_it(self):
        from playwright.sync_api import expect, sync_playwright

        from apps.conversations.models import Attachment

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            try:
                customer = browser.new_context(locale="es-AR").new_page()
                customer.goto(f"{self.live_server_url}/workspace/widget-demo/?key={KEY}")
                customer.locator("button.launcher").click()
                customer.wait_for_function("() => Object.keys(localStorage).some(k => (localStorage.getItem(k) || '').includes('\"token\":\"'))", timeout=10_000)
                # The widget opens with a greeting and the wait for a person (nobody is online here),
                # in the page's language, and offers the optional name and e-mail.
                expect(customer.locator("p.greeting")).to_have_text(re.compile(r"^¡Hola!"))
                expect(customer.locator("p.wait")).to_contain_text("Customer Service")
                customer.locator("details.about summary").click()
                customer.locator("#asiste-name").fill("Carla")
                customer.locator("#asiste-email").fill("carla@example.com")
                customer.locator(".about-form button").click()
                expect(customer.locator("p.about-note")).not_to_be_empty()
                customer.locator("#asiste-file").set_input_files(str(PHOTO))
                att = self.wait_db(lambda: Attachment.objects.select_related("message").first(), "the upload")
                # The customer sees their own photo in the chat (a signed link to the thumbnail).
                expect(customer.locator("li.msg-customer img.thumb")).to_be_visible(timeout=10_000)
                customer.wait_for_function(
                    "() => { const i = document.querySelector('#asisteclick-widget').shadowRoot"
                    ".querySelector('img.thumb'); return i && i.naturalWidth > 0; }")
                customer.screenshot(path=str(ARTIFACTS / "widget-photo.png"))
                # The agent (an Operator sees the bot's chats) opens the conversation and the photo.
                agent = self.login(browser, self.cast.operator, f"/conversations/{att.conversation_id}/")
                thumb = agent.locator(f"#file-{att.pk} img.thumb")
                expect(thumb).to_be_visible(timeout=10_000)
                agent.wait_for_function(f"() => document.querySelector('#file-{att.pk} img').naturalWidth > 0")
                with agent.context.expect_page() as opened:
                    agent.locator(f"#file-{att.pk}").focus()
                    agent.keyboard.press("Enter")
                photo = opened.value
                photo.wait_for_load_state()
                assert photo.url.endswith(f"/workspace/attachments/{att.pk}/")
                response = agent.request.get(photo.url)
                assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
                assert response.body() == PHOTO.read_bytes()
                # The agent's side, photo shown, fits 1366 and 375 px (workspace-photo-<width>.png).
                wide = too_wide(agent, "workspace-photo")
                assert not wide, wide
            finally:
                browser.close()
