"""In real headless Chromium (the workspace's live-server harness): a Technical Support
Collaborator opens an assigned chat, the copilot's suggested reply streams into the panel without
blocking the page, the Collaborator inserts it into the reply box and sends it; the customer's
chat shows it and the suggestion is recorded as used. Screenshot: test-artifacts/copilot.png."""
from __future__ import annotations

import re
import tempfile

from django.test import override_settings

from tests.browser import harness as browser_harness
from tests.workspace import test_browser_flow as harness

pytestmark = harness.pytestmark

QUESTION = "My ONT light is red, what should I do?"
KB_TEXT = ("# Light check\nWhen the ONT light is red, restart the router and check the fibre cable. "
           "If the light stays red, a technician visit is needed.")


class CopilotBrowserTest(harness.LiveWorkspaceBrowserTest):
    test_customer_to_collaborator_round_trip = None  # the workspace's own scenario runs in its module
    seed_demo_kb = False  # one document of its own: the draft must come from it

    @classmethod
    def setUpClass(cls):
        from apps.knowledge import search, vectorstore

        cls._tmp = tempfile.TemporaryDirectory(prefix="copilot-browser-")
        # Before the server process starts: it must read the same vector store as this process.
        cls._kb_settings = override_settings(CHROMA_PATH=f"{cls._tmp.name}/chroma", CHROMA_URL=None,
                                             MEDIA_ROOT=f"{cls._tmp.name}/media", EMBEDDINGS_PROVIDER="local",
                                             AGENT_PROVIDER="local", COPILOT_PROVIDER="local")
        cls._kb_settings.enable()
        vectorstore.reset_for_tests()
        search.cache_clear()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        from apps.knowledge import search, vectorstore

        super().tearDownClass()
        cls._kb_settings.disable()
        vectorstore.reset_for_tests()
        search.cache_clear()
        cls._tmp.cleanup()

    def setUp(self):
        super().setUp()
        from apps.conversations.models import Conversation
        from apps.copilot.models import CopilotSettings
        from tests.factories import conversation_in

        # Ingested by a fresh process: this one must stay free of the vector store (see run_fresh).
        browser_harness.run_fresh(
            "from apps.departments.models import Department\nfrom apps.knowledge import services\n"
            f"d = services.document_create(title='Light check', filename='light.md', data={KB_TEXT.encode()!r}, "
            f"departments=[Department.objects.get(pk={self.cast.dept_a.pk})], language='en')\n"
            "services.document_ingest(document_id=d.pk)\n", self.server_settings)
        CopilotSettings.objects.create(department=self.cast.dept_a, enabled=True)
        self.conv = conversation_in(self.cast, "assigned", department=self.cast.dept_a, assignee=self.cast.collab_a,
                                    text=QUESTION)
        Conversation.objects.filter(pk=self.conv.pk).update(language="en")

    def test_collaborator_inserts_a_suggested_reply_and_sends_it(self):
        from playwright.sync_api import expect, sync_playwright

        from apps.conversations.models import Message
        from apps.copilot.models import CopilotSuggestion

        path = f"/conversations/{self.conv.pk}/"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.LAUNCH_ARGS, headless=True)
            try:
                page = self.login(browser, self.cast.collab_a, path)
                # The page is usable at once; the draft arrives in the panel afterwards.
                expect(page.locator("#reply-body")).to_be_editable()
                draft = page.locator("#copilot-suggestion .copilot-draft-text")
                expect(draft).to_be_visible(timeout=20_000)
                text = draft.input_value()
                assert "red" in text.lower()
                expect(page.locator("#copilot-suggestion .copilot-sources")).to_contain_text("Light check")
                assert harness.orm(lambda: Message.objects.filter(conversation=self.conv, author_kind="human").count()) == 0

                # The panel passes axe-core's WCAG 2 A/AA rules (the vendored copy the project ships).
                browser_harness.axe_inject(page)
                violations = page.evaluate("""async () => (await axe.run('#copilot-panel',
                    {runOnly: ['wcag2a', 'wcag2aa'], preload: false})).violations.map(v => v.id + ': ' + v.nodes.length)""")
                assert violations == [], violations

                page.locator("#copilot-suggestion button.copilot-insert").click()
                expect(page.locator("#reply-body")).to_have_value(text)
                expect(page.locator("#reply-body")).to_be_focused()
                page.screenshot(path=str(harness.ARTIFACTS / "copilot.png"), full_page=True)
                page.locator("form.reply button[type=submit]").click()
                page.wait_for_url(re.compile(rf"{re.escape(path)}$"))
                expect(page.locator("#conv-messages li.msg-human .body").last).to_have_text(text, timeout=10_000)

                row = self.wait_db(lambda: CopilotSuggestion.objects.filter(
                    conversation=self.conv, kind="reply").exclude(outcome="pending").order_by("created").first(),
                    "the suggestion's outcome")
                assert (row.outcome, row.similarity) == ("used", 1.0)
                sent = harness.orm(lambda: Message.objects.get(conversation=self.conv, author_kind="human"))
                assert sent.body == text and sent.author_id == self.cast.collab_a.pk
            finally:
                browser.close()
