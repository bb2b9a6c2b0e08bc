"""Snooze: a chat put aside until a time leaves the open lists for "Snoozed" and comes back by itself
(its time passed: the list compares with the database's clock) or when the customer writes."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from apps.conversations import services
from apps.conversations.models import Conversation, ConversationEvent, Status
from apps.core.errors import IllegalTransition, InvalidInput, NotAllowed
from apps.workspace import inbox, snooze
from apps.workspace.timeline import event_text
from tests.factories import PASSWORD, conversation_in

pytestmark = pytest.mark.django_db
Kind = ConversationEvent.Kind


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _ids(user, tab: str) -> set[int]:
    return {r.pk for r in inbox.conversation_page(user, inbox.filters_from({"tab": tab}))["rows"]}


def _snoozed(cast, hours: float = 3, status=Status.IN_PROGRESS) -> Conversation:
    conv = conversation_in(cast, status, department=cast.dept_a)
    services.conversation_snooze(conversation=conv, user=cast.collab_a, until=timezone.now() + timedelta(hours=hours))
    return Conversation.objects.get(pk=conv.pk)


def _expire(conv: Conversation) -> None:
    """Move the stored time into the past (no sleeping): what the clock passing it would do."""
    Conversation.objects.filter(pk=conv.pk).update(snoozed_until=timezone.now() - timedelta(minutes=1))


def test_snooze_hides_from_the_default_lists_and_shows_under_snoozed(cast):
    conv = _snoozed(cast)
    other = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    for user in (cast.collab_a, cast.operator):
        assert conv.pk not in _ids(user, "open") and other.pk in _ids(user, "open")
        assert conv.pk in _ids(user, "snoozed") and other.pk not in _ids(user, "snoozed")
    assert conv.pk not in _ids(cast.collab_a, "mine")
    assert inbox.tab_counts(cast.collab_a)["mine"] == 1  # only the awake one
    event = ConversationEvent.objects.get(conversation=conv, kind=Kind.SNOOZED)
    assert event.actor == cast.collab_a and event.payload["until"]


def test_the_snoozed_row_says_until_when(client, cast):
    conv = _snoozed(cast)
    html = login(client, cast.collab_a).get(reverse("workspace-inbox-lists") + "?tab=snoozed",
                                            HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'id="mine-row-{conv.pk}"' in html and "chip-snoozed" in html and "Snoozed until" in html
    html = client.get(reverse("inbox") + "?tab=snoozed", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'id="tab-snoozed"' in html and "Pospuestas" in html and "Pospuesta hasta" in html


def test_an_expired_snooze_is_awake_without_any_sweep(cast):
    conv = _snoozed(cast)
    # The same compiled (and, on PostgreSQL, prepared) statements before and after: the clock is
    # the database's, read at each run, not a value fixed when the statement was built.
    assert conv.pk not in _ids(cast.collab_a, "open") and conv.pk in _ids(cast.collab_a, "snoozed")
    _expire(conv)
    assert conv.pk in _ids(cast.collab_a, "open") and conv.pk in _ids(cast.collab_a, "mine")
    assert conv.pk not in _ids(cast.collab_a, "snoozed")
    assert not ConversationEvent.objects.filter(conversation=conv, kind=Kind.WOKE).exists()


def test_the_sweep_records_an_expired_wake_up_once(cast):
    conv = _snoozed(cast)
    still = _snoozed(cast, hours=5)
    _expire(conv)
    assert services.conversation_wake_due() == 1
    assert services.conversation_wake_due() == 0  # idempotent: a second run finds nothing
    woke = ConversationEvent.objects.filter(conversation=conv, kind=Kind.WOKE)
    assert woke.count() == 1 and woke.get().payload["cause"] == "time"
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None
    assert Conversation.objects.get(pk=still.pk).snoozed_until is not None


def test_a_customer_message_wakes_it_with_an_event(cast, django_capture_on_commit_callbacks):
    conv = _snoozed(cast)
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        services.message_receive(channel=cast.channel, contact=conv.contact, body="¿Hay novedades?", conversation=conv)
    assert hooks  # the live signal (open inboxes re-fetch their list)
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None
    woke = ConversationEvent.objects.get(conversation=conv, kind=Kind.WOKE)
    assert woke.actor_kind == "customer" and woke.payload["cause"] == "customer"
    assert conv.pk in _ids(cast.collab_a, "mine") and conv.pk not in _ids(cast.collab_a, "snoozed")


def test_unsnooze_brings_it_back_with_an_event(client, cast):
    conv = _snoozed(cast)
    login(client, cast.collab_a)
    resp = client.post(reverse("workspace-unsnooze", args=[conv.pk]))
    assert resp.status_code == 302
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None
    assert ConversationEvent.objects.filter(conversation=conv, kind=Kind.UNSNOOZED, actor=cast.collab_a).count() == 1
    client.post(reverse("workspace-unsnooze", args=[conv.pk]))  # awake already: nothing more
    assert ConversationEvent.objects.filter(conversation=conv, kind=Kind.UNSNOOZED).count() == 1


def test_any_status_change_ends_the_snooze(cast):
    conv = _snoozed(cast)
    services.conversation_requeue(conversation=conv, reason="test")
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None


@pytest.mark.parametrize("delta, message", [
    (timedelta(minutes=-5), "future"),
    (timedelta(days=services.SNOOZE_MAX_DAYS, hours=1), "at most"),
])
def test_times_in_the_past_or_too_far_ahead_are_refused(cast, delta, message):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    with translation.override("en"), pytest.raises(InvalidInput, match=message):
        services.conversation_snooze(conversation=conv, user=cast.collab_a, until=timezone.now() + delta)
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None
    assert not ConversationEvent.objects.filter(conversation=conv, kind=Kind.SNOOZED).exists()


def test_archived_and_queued_chats_cannot_be_snoozed(cast):
    later = timezone.now() + timedelta(hours=1)
    archived = conversation_in(cast, Status.ARCHIVED, department=cast.dept_a)
    with translation.override("en"), pytest.raises(IllegalTransition, match="archived"):
        services.conversation_snooze(conversation=archived, user=cast.operator, until=later)
    queued = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    with pytest.raises(IllegalTransition):
        services.conversation_snooze(conversation=queued, user=cast.operator, until=later)


def test_the_view_shows_a_clear_error_for_a_past_time(client, cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    login(client, cast.collab_a)
    resp = client.post(reverse("workspace-snooze", args=[conv.pk]), {"until": "2020-01-01T09:00"},
                       HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert resp.status_code == 200 and "Choose a time in the future." in resp.content.decode()
    resp = client.post(reverse("workspace-snooze", args=[conv.pk]), {"until": "2020-01-01T09:00"},
                       HTTP_ACCEPT_LANGUAGE="en", HTTP_HX_REQUEST="true")
    assert resp.status_code == 422
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None


def test_a_collaborator_of_another_department_gets_404(client, cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    login(client, cast.collab_b)
    assert client.post(reverse("workspace-snooze", args=[conv.pk]), {"preset": "1h"}).status_code == 404
    assert client.post(reverse("workspace-unsnooze", args=[conv.pk])).status_code == 404
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is None
    with pytest.raises(NotAllowed):
        services.conversation_snooze(conversation=conv, user=cast.collab_b, until=timezone.now() + timedelta(hours=1))


def test_a_department_colleague_may_snooze_a_visible_chat(client, cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    login(client, cast.collab_ab)
    assert client.post(reverse("workspace-snooze", args=[conv.pk]), {"preset": "tomorrow"}).status_code == 302
    assert Conversation.objects.get(pk=conv.pk).snoozed_until is not None


def test_presets_follow_the_users_time_zone():
    now = datetime(2026, 12, 4, 23, 30, tzinfo=ZoneInfo("UTC"))  # a Friday; 20:30 in Buenos Aires
    with timezone.override(ZoneInfo("America/Argentina/Buenos_Aires")):
        chosen = {p.value: timezone.localtime(p.until) for p in snooze.presets(now)}
    assert chosen["1h"] == now + timedelta(hours=1)
    assert (chosen["tomorrow"].date().isoformat(), chosen["tomorrow"].hour) == ("2026-12-05", 9)
    assert (chosen["next_week"].date().isoformat(), chosen["next_week"].hour) == ("2026-12-07", 9)
    assert chosen["tomorrow"].utcoffset() == timedelta(hours=-3)
    with timezone.override(ZoneInfo("Asia/Tokyo")):  # already Saturday morning there
        tomorrow = next(p for p in snooze.presets(now) if p.value == "tomorrow").until
    assert tomorrow.date().isoformat() == "2026-12-06"


def test_a_custom_time_is_read_in_the_users_time_zone(cast, client):
    cast.collab_a.time_zone = "America/Argentina/Buenos_Aires"
    cast.collab_a.save(update_fields=["time_zone"])
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    local = timezone.localtime(timezone.now(), ZoneInfo("America/Argentina/Buenos_Aires")) + timedelta(days=2)
    login(client, cast.collab_a).post(reverse("workspace-snooze", args=[conv.pk]),
                                      {"until": local.strftime("%Y-%m-%dT%H:%M")})
    stored = Conversation.objects.get(pk=conv.pk).snoozed_until
    assert stored == local.replace(second=0, microsecond=0)


def test_timeline_lines_in_spanish_and_english(cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("UTC"))
    event = ConversationEvent(conversation=conv, kind=Kind.SNOOZED, actor_kind="human", actor=cast.collab_a,
                              payload={"until": monday.isoformat()},
                              created_at=datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("UTC")))
    with timezone.override(ZoneInfo("UTC")):
        with translation.override("en"):
            assert event_text(event) == "Snoozed until Mon 09:00 by Collab_A."
        with translation.override("es"):
            assert event_text(event) == "Pospuesta hasta lun 09:00 por Collab_A."
    woke = ConversationEvent(conversation=conv, kind=Kind.WOKE, actor_kind="customer", payload={"cause": "customer"})
    with translation.override("en"):
        assert event_text(woke) == "Woke up: the customer wrote."
    with translation.override("es"):
        assert event_text(woke) == "Despertó: el cliente escribió."


def test_the_conversation_screen_renders_the_control_and_the_timeline_line(client, cast):
    conv = _snoozed(cast)
    html = login(client, cast.collab_a).get(reverse("conversation-detail", args=[conv.pk]),
                                            HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="snooze-menu"' in html and 'id="snooze-1h"' in html and 'id="snooze-until"' in html
    assert 'id="unsnooze-button"' in html and 'for="snooze-until"' in html
    assert "<kbd>z</kbd>" in html  # documented in the "?" overlay
    assert "Snoozed until" in html and "by Collab_A." in html
    queued = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    html = client.get(reverse("conversation-detail", args=[queued.pk])).content.decode()
    assert 'id="snooze-menu"' not in html


@pytest.mark.parametrize("role, expected", [
    ("operator", 302), ("collab_a", 302), ("collab_ab", 302),  # see the chat: may snooze it
    ("collab_b", 404), ("outsider", 404), (None, 302),  # cannot see it: 404; anonymous: to the login
])
def test_who_may_snooze_a_chat_of_department_a(client, cast, role, expected):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    if role:
        login(client, getattr(cast, role))
    resp = client.post(reverse("workspace-snooze", args=[conv.pk]), {"preset": "1h"})
    assert resp.status_code == expected
    snoozed = Conversation.objects.get(pk=conv.pk).snoozed_until is not None
    assert snoozed == (role in ("operator", "collab_a", "collab_ab"))
    if role is None:
        assert "/login" in resp["Location"] or "next=" in resp["Location"]


def test_the_routing_sweep_wakes_it_and_signals_the_audience(cast, monkeypatch, django_capture_on_commit_callbacks):
    """Signals, not data: the assignee's screen is told the chat changed and re-fetches its list."""
    from apps.core import realtime
    from apps.routing.sweep import sweep

    sent = []
    monkeypatch.setattr(realtime, "_send_all", lambda signals: sent.extend(signals))
    conv = _snoozed(cast)
    _expire(conv)
    with django_capture_on_commit_callbacks(execute=True):
        stats = sweep(assign=False)
    assert stats["snooze_woken"] == 1
    assert ConversationEvent.objects.filter(conversation=conv, kind=Kind.WOKE).count() == 1
    pushes = [(groups, event) for groups, event in sent if event.get("conversation") == conv.pk]
    assert pushes and f"user.{cast.collab_a.pk}" in pushes[0][0]
    assert set(pushes[0][1]) <= {"what", "conversation", "department", "at"}  # no message text, no names


def test_the_sweep_reads_due_snoozes_from_their_partial_index(cast):
    """Every beat asks for the snoozes now due: an index range over snoozed chats only (conversations
    migration 0010), not a scan of every conversation the operation ever had."""
    from tests.plans import query_plan

    for _ in range(3):
        _expire(_snoozed(cast))
    plan = query_plan(services.snoozes_due(timezone.now())[:200])
    assert "conv_snoozed" in plan, plan


def test_a_plain_form_comes_back_to_the_chat_with_the_lists_filters(client, cast):
    """Without htmx the snooze form posts the list's filters in its action: the redirect keeps them."""
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    login(client, cast.collab_a)
    resp = client.post(reverse("workspace-snooze", args=[conv.pk]) + "?tab=mine&sort=newest", {"preset": "1h"})
    assert resp.status_code == 302
    assert resp["Location"] == reverse("conversation-detail", args=[conv.pk]) + "?tab=mine&sort=newest"
    resp = client.post(reverse("workspace-unsnooze", args=[conv.pk]))
    assert resp["Location"] == reverse("conversation-detail", args=[conv.pk])
