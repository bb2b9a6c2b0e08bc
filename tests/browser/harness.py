"""A real Daphne server (ChannelsLiveServerTestCase) plus Debian's headless Chromium driven by
Playwright: the set-up every browser test shares."""
from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.conf import settings
from django.db import connections
from django.test import override_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
HAVE_CHROMIUM = Path(CHROMIUM).exists() or bool(shutil.which("chromium"))
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
STATIC_PLAIN = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

browser_marks = [pytest.mark.browser,
                 pytest.mark.skipif(not HAVE_CHROMIUM, reason="Chromium is not installed (apt-get install -y chromium)")]


def run_fresh(code: str, settings_overrides: dict | None = None) -> None:
    """Run Python ``code`` (after django.setup()) in a fresh interpreter on this test database.

    For work that drives the embedded vector store (ingesting documents): its Rust threads do not
    survive a fork, so a test process that used it could no longer fork a working live server (the
    child deadlocks on its first request). Browser tests run first in the session (conftest.py) and
    leave that work to a fresh process, so every server they fork comes from a clean parent."""
    import json
    import subprocess
    import sys

    db = settings.DATABASES["default"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "asisteclick.settings", "LOG_LEVEL": "WARNING"}
    if db["ENGINE"].endswith("sqlite3"):
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(db["NAME"])
    else:
        env["DATABASE_URL"] = (f"postgres://{db.get('USER') or 'postgres'}:{db.get('PASSWORD') or ''}@"
                               f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}")
    prelude = ("import json, django\nfrom django.conf import settings\n"
               f"for k, v in json.loads({json.dumps(json.dumps(settings_overrides or {}))}).items():\n"
               "    setattr(settings, k, v)\ndjango.setup()\n")
    subprocess.run([sys.executable, "-c", prelude + code], env=env, cwd=settings.BASE_DIR, check=True)


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def axe_inject(page) -> None:
    """Load axe-core through the DevTools protocol, not an inline <script>: the page's CSP stays on."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;window.axe = axe;")


def axe_problems(page, label: str, *, preload: bool = True) -> list[dict]:
    """Run axe-core on ``page``; write every violation to test-artifacts/axe-<label>.json and return
    the serious and critical ones.

    ``preload=False`` for a page with the widget: axe's CSSOM preload would copy the widget's
    shadow-root stylesheet into an inline <style>, which the page's CSP (rightly) refuses; only
    css-orientation-lock uses it."""
    import json

    axe_inject(page)
    result = page.evaluate("""async (preload) => {
        const r = await axe.run(document, {resultTypes: ['violations'], preload});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""", preload)
    (ARTIFACTS / f"axe-{label}.json").write_text(json.dumps(result, indent=1))
    return [v for v in result if v["impact"] in ("serious", "critical")]


def too_wide(page, label: str, widths=(1366, 375)) -> dict[str, int]:
    """At each width, a screenshot in test-artifacts/<label>-<width>.png; returns the widths at
    which the document is wider than the viewport (a sideways scroll), as {"<label>-<width>": px}."""
    wide = {}
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)  # layout only
        page.screenshot(path=str(ARTIFACTS / f"{label}-{width}.png"))
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            wide[f"{label}-{width}"] = scroll
    return wide


def orm(fn, *args, **kwargs):
    """Run ORM code off the Playwright thread (its event loop makes Django refuse sync DB calls)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_closing(fn), *args, **kwargs).result()


def _closing(fn):
    def run(*args, **kwargs):
        from django.db import connections

        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()
    return run


class LiveBrowserTestCase(ChannelsLiveServerTestCase):
    host = "127.0.0.1"
    serve_static = True
    # Extra settings the forked server process must start with (e.g. a knowledge base's paths).
    server_settings: dict = {}

    @classmethod
    def setUpClass(cls):
        # Tasks (the agent turn, routing) must run inside the server process, whatever the broker.
        from asisteclick.celery import app as celery_app

        cls._eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        # The server process is forked now: it must verify the fast test hasher the cast is saved with.
        cls._overrides = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                                           STORAGES=STATIC_PLAIN, **cls.server_settings)
        cls._overrides.enable()
        # The forked server re-derives the test database name from TEST.NAME (or "test_" + NAME);
        # pytest-django already switched NAME to the test database, so point TEST.NAME at it.
        db = settings.DATABASES["default"]
        cls._test_name = db.setdefault("TEST", {}).get("NAME")
        db["TEST"]["NAME"] = db["NAME"]
        # No open database connection may cross the fork. SQLite keeps one record per process for
        # each open database file (its WAL index mapping and lock state): a child that inherits an
        # open connection reuses the parent's record, and once the parent closes its last connection
        # (and SQLite, holding no lock the child could show, resets the WAL files) the server keeps
        # reading the old WAL index for the rest of the class: rows the test writes after the first
        # test's flush never reach it (the keyboard walk's login then failed as "wrong password").
        connections.close_all()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        settings.DATABASES["default"]["TEST"]["NAME"] = cls._test_name
        cls._overrides.disable()
        from asisteclick.celery import app as celery_app

        celery_app.conf.task_always_eager = cls._eager

    def _fixture_teardown(self):
        """Flush the test database, again when PostgreSQL broke a deadlock by aborting the flush: the
        server process may still be finishing the last request of the closed browser (a websocket's
        disconnect, an htmx poll) on tables the TRUNCATE is locking one by one. The aborted flush
        rolled back, so it is simply retried once that request is done."""
        from django.core.management.base import CommandError

        for attempt in range(5):
            try:
                return super()._fixture_teardown()
            except CommandError as exc:
                cause = exc.__cause__
                while cause is not None and "deadlock detected" not in str(cause):
                    cause = cause.__cause__
                if cause is None or attempt == 4:
                    raise
                connections.close_all()
                time.sleep(0.5 * (attempt + 1))

    def _callTestMethod(self, method):
        """Every page any test opens is watched: a Content-Security-Policy violation in the browser
        console (an inline script or style, a foreign host) fails the test.

        Under the CSP, ``page.wait_for_function`` needs a function (``"() => expr"``): a bare
        expression string is compiled with eval in the page, which the policy refuses."""
        from unittest import mock

        from playwright.sync_api import Browser

        violations: list[str] = []

        def watch(page_or_context):
            page_or_context.on("console", lambda msg: violations.append(f"{msg.page.url if msg.page else ''} {msg.location}: {msg.text}")
                               if "Content Security Policy" in msg.text else None)
            return page_or_context

        from playwright.sync_api import Page

        wait_for_function = Page.wait_for_function

        def wait_for_a_function(page, expression, *args, **kwargs):
            # A bare expression passes while it is true on the first poll and fails under the CSP on
            # the second: refuse it every time, not only when the machine is slow.
            if not re.match(r"\s*(\(|async\b|function\b)", expression):
                raise AssertionError(f"wait_for_function needs a function under the CSP: {expression!r}")
            return wait_for_function(page, expression, *args, **kwargs)

        new_context, new_page = Browser.new_context, Browser.new_page
        with mock.patch.object(Browser, "new_context", lambda b, *a, **k: watch(new_context(b, *a, **k))), \
                mock.patch.object(Browser, "new_page", lambda b, *a, **k: watch(new_page(b, *a, **k))), \
                mock.patch.object(Page, "wait_for_function", wait_for_a_function):
            method()
        self.assertEqual(violations, [], "Content-Security-Policy violations in the browser console")

    def login(self, browser, user, path, *, locale="en-US", wait_live=True):
        from tests.factories import PASSWORD

        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/?next={path}")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile("^" + re.escape(self.live_server_url + path) + "$"))
        if wait_live:
            page.wait_for_function("() => document.body.dataset.liveState === 'open'", timeout=10_000)
        return page

    def wait_db(self, predicate, what, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = orm(predicate)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")
