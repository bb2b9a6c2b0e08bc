"""The browser tests' flush survives a deadlock PostgreSQL breaks by aborting it (the live server still
finishing the closed browser's last request), and still fails on any other error."""
from __future__ import annotations

from unittest import mock

from channels.testing import ChannelsLiveServerTestCase
from django.core.management.base import CommandError

from tests.browser.harness import LiveBrowserTestCase


class _Case(LiveBrowserTestCase):
    __test__ = False  # only instantiated: no live server is started

    def test_nothing(self):
        pass


def _teardown_with(monkeypatch, causes: list[str | None]) -> tuple[int, Exception | None]:
    """Run the harness's teardown over a flush that fails with each cause in turn (None: succeeds);
    returns how many times the flush ran and what the teardown raised (None)."""
    monkeypatch.setattr("tests.browser.harness.time.sleep", lambda seconds: None)
    calls = []

    def flush(self):
        cause = causes[min(len(calls), len(causes) - 1)]
        calls.append(cause)
        if cause is not None:
            error = CommandError("Database test_x couldn't be flushed.")
            error.__cause__ = RuntimeError(cause)
            raise error

    with mock.patch.object(ChannelsLiveServerTestCase, "_fixture_teardown", flush):
        try:
            _Case("test_nothing")._fixture_teardown()
        except CommandError as exc:
            return len(calls), exc
    return len(calls), None


def test_a_flush_aborted_by_a_deadlock_is_retried(monkeypatch):
    deadlock = "deadlock detected\nDETAIL: Process 1 waits for AccessExclusiveLock"
    assert _teardown_with(monkeypatch, [deadlock, deadlock, None]) == (3, None)


def test_any_other_flush_error_is_raised_at_once(monkeypatch):
    runs, raised = _teardown_with(monkeypatch, ["relation does not exist"])
    assert runs == 1 and isinstance(raised, CommandError)


def test_a_deadlock_that_does_not_clear_is_raised_after_five_tries(monkeypatch):
    runs, raised = _teardown_with(monkeypatch, ["deadlock detected"])
    assert runs == 5 and isinstance(raised, CommandError)
