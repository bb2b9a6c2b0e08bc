"""Issue 16: presence follows people, not sockets, and escalation never strands a customer.

* a closed tab or a network blip is a grace period before "away"; chats stay through "away"; only
  "offline" (chosen, end of shift, long absence) reclaims them;
* going online is offered at sign-in and remembered; acting while offline switches you online;
* escalation never moves a chat to a department where nobody can take it; the customer is told the
  truth in their language (place in line and expected wait, or that nobody is available);
* Transfer / Reassign forms preselect nothing.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, Message, Status
from apps.routing import services
from apps.routing.models import AgentPresence, AgentShift, BusinessHours, Mode, Notification, Presence, Reclaim
from apps.routing.sweep import sweep
from tests.factories import PASSWORD, conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def status_of(user) -> str:
    return AgentPresence.objects.get(pk=user.pk).status


# --- a closed tab is not a departure -----------------------------------------------------------------

def test_a_two_minute_disconnect_keeps_chats_in_progress(cast):
    """Default settings: a network blip of two minutes changes nothing, not even the presence."""
    routing(cast.dept_a, mode=Mode.LOAD, offline_reclaim=Reclaim.REQUEUE, reply_minutes=None)
    online(cast.collab_a)
    chats = [conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a),
             conversation_in(cast, Status.ASSIGNED, assignee=cast.collab_a)]
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t - timedelta(minutes=30))
    services.presence_disconnected(cast.collab_a.pk, now=t)
    for seconds in (15, 60, 90, 105, 120):  # the sweep runs as usual during the blip
        sweep(now=t + timedelta(seconds=seconds))
    assert status_of(cast.collab_a) == Presence.ONLINE
    services.presence_connected(cast.collab_a.pk, now=t + timedelta(minutes=2))
    sweep(now=t + timedelta(hours=2))  # and with the tab back, nothing happens later either
    for chat in chats:
        fresh = Conversation.objects.get(pk=chat.pk)
        assert fresh.assignee == cast.collab_a and fresh.status == chat.status
        assert not fresh.events.filter(kind="requeued").exists()


def test_reopening_the_tab_within_the_grace_period_shows_the_same_chats(cast, client):
    online(cast.collab_a)
    routing(cast.dept_a, offline_reclaim=Reclaim.REQUEUE)
    chat = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    client.force_login(cast.collab_a)
    before = client.get(reverse("inbox")).content.decode()
    assert f"/conversations/{chat.pk}/" in before
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t)
    services.presence_disconnected(cast.collab_a.pk, now=t)                           # tab closed
    for seconds in range(15, 241, 15):  # default settings: four minutes later, still within the grace
        sweep(now=t + timedelta(seconds=seconds))
    services.presence_connected(cast.collab_a.pk, now=t + timedelta(minutes=4))  # reopened
    later = t + timedelta(hours=2)
    services.presence_heartbeat(cast.collab_a.pk, now=later - timedelta(seconds=10))  # the open tab is alive
    sweep(now=later)
    after = client.get(reverse("inbox")).content.decode()
    assert f"/conversations/{chat.pk}/" in after and status_of(cast.collab_a) == Presence.ONLINE
    assert Conversation.objects.get(pk=chat.pk).assignee == cast.collab_a


def test_away_after_the_grace_gets_no_new_chats_and_coming_back_restores_online(cast):
    routing(cast.dept_a, mode=Mode.LOAD, offline_reclaim=Reclaim.REQUEUE)
    online(cast.collab_a)
    mine = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t)
    services.presence_disconnected(cast.collab_a.pk, now=t)
    assert sweep(now=t + services.away_grace())["went_away"] == 1
    assert status_of(cast.collab_a) == Presence.AWAY
    waiting = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=waiting.pk, now=t + services.away_grace())
    assert Conversation.objects.get(pk=waiting.pk).status == Status.UNASSIGNED  # away: nothing new
    assert Conversation.objects.get(pk=mine.pk).assignee == cast.collab_a        # but their chat stays
    services.presence_connected(cast.collab_a.pk, now=t + services.away_grace() + timedelta(minutes=5))
    assert status_of(cast.collab_a) == Presence.ONLINE  # away only because the tab closed: back online


def test_away_by_choice_stays_away_when_a_tab_opens(cast):
    services.presence_set(user=cast.collab_a, status=Presence.AWAY)
    services.presence_connected(cast.collab_a.pk)
    assert status_of(cast.collab_a) == Presence.AWAY


def test_end_of_shift_with_no_tab_open_goes_offline_and_returns_chats_to_the_same_department(cast):
    routing(cast.dept_a, mode=Mode.MANUAL, offline_reclaim=Reclaim.REQUEUE)
    t = timezone.now().replace(second=0, microsecond=0)
    p = online(cast.collab_a)
    local = timezone.localtime(t, ZoneInfo(settings.TIME_ZONE))  # shifts are local times
    start, end = (local - timedelta(hours=8)), (local - timedelta(minutes=10))
    AgentShift.objects.create(presence=p, weekday=start.weekday(), start=start.time(), end=end.time())
    AgentPresence.objects.filter(pk=p.pk).update(changed_at=start)
    chat = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    stats = sweep(now=t)
    assert stats["went_offline"] == 1 and status_of(cast.collab_a) == Presence.OFFLINE
    chat.refresh_from_db()
    assert chat.status == Status.UNASSIGNED and chat.department == cast.dept_a
    # Someone who set themselves online after their shift ended (staying on) is left alone.
    services.presence_set(user=cast.collab_a, status=Presence.ONLINE, now=t)
    assert sweep(now=t + timedelta(minutes=30)).get("went_offline", 0) == 0


# --- sign-in and acting while offline ------------------------------------------------------------------

def test_sign_in_offers_going_online_and_remembers_the_choice(cast, client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="go_online" value="1" checked' in page
    resp = client.post(reverse("login"), {"username": cast.collab_a.username, "password": PASSWORD,
                                          "presence_offered": "1", "go_online": "1"})
    assert resp.status_code == 302 and status_of(cast.collab_a) == Presence.ONLINE
    client.post(reverse("logout"))
    # Unticked: stays offline, and the choice is remembered (per person and by this browser).
    resp = client.post(reverse("login"), {"username": cast.collab_ab.username, "password": PASSWORD,
                                          "presence_offered": "1"})
    assert resp.status_code == 302
    assert status_of(cast.collab_ab) == Presence.OFFLINE
    assert AgentPresence.objects.get(pk=cast.collab_ab.pk).online_at_login is False
    client.post(reverse("logout"))
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="go_online" value="1">' in page


def test_picking_up_or_replying_while_offline_switches_you_online(cast, django_capture_on_commit_callbacks):
    routing(cast.dept_a, mode=Mode.MANUAL)
    chat = conversation_in(cast, Status.UNASSIGNED)
    assert not AgentPresence.objects.filter(pk=cast.collab_a.pk, status=Presence.ONLINE).exists()
    with django_capture_on_commit_callbacks(execute=True):
        conv_services.conversation_pickup(conversation=chat.pk, user=cast.collab_a)
    assert status_of(cast.collab_a) == Presence.ONLINE
    # An Operator replying while offline goes online too.
    services.presence_set(user=cast.operator, status=Presence.OFFLINE)
    with django_capture_on_commit_callbacks(execute=True):
        conv_services.message_send_human(conversation=chat.pk, user=cast.operator, body="Hola, soy el supervisor")
    assert status_of(cast.operator) == Presence.ONLINE
    # Someone away by choice who answers stays away (answering without taking new chats).
    services.presence_set(user=cast.collab_a, status=Presence.AWAY)
    with django_capture_on_commit_callbacks(execute=True):
        conv_services.message_send_human(conversation=chat.pk, user=cast.collab_a, body="Sigo aquí")
    assert status_of(cast.collab_a) == Presence.AWAY


# --- never to an empty place ---------------------------------------------------------------------------

def _backup_ladder(cast):
    routing(cast.dept_a, mode=Mode.LOAD, pickup_minutes=5, pickup_auto_assign=True, pickup_to_backup=True,
            pickup_notify=False)
    routing(cast.dept_b, mode=Mode.LOAD, pickup_minutes=5)
    cast.dept_a.backup = cast.dept_b
    cast.dept_a.save()


def test_a_department_whose_members_are_all_offline_never_receives_escalated_chats(cast):
    _backup_ladder(cast)
    services.presence_set(user=cast.collab_b, status=Presence.OFFLINE)   # Sales: nobody online
    services.presence_set(user=cast.collab_ab, status=Presence.AWAY)    # (away does not count either)
    chat = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=chat.pk)
    t = Conversation.objects.get(pk=chat.pk).queued_at
    for minutes in range(5, 65, 5):  # an hour of ladder steps
        sweep(now=t + timedelta(minutes=minutes))
    chat.refresh_from_db()
    assert chat.department == cast.dept_a and chat.status == Status.UNASSIGNED
    assert not chat.events.filter(kind="transferred").exists()
    steps = chat.events.filter(kind="escalation", reason="pickup_overdue")
    assert steps.exists() and all("backup_unavailable" in e.payload["actions"] for e in steps)
    # The Operators are told (the backup was wanted and could not take it), at most every 30 minutes.
    notes = Notification.objects.filter(conversation=chat, kind="backup_unavailable")
    assert notes.count() == 2 and "tampoco hay nadie disponible" in notes.first().text  # in the Operator's language
    # Once someone in Sales is online with room, the next step moves it there.
    online(cast.collab_b)
    sweep(now=t + timedelta(minutes=65))
    assert Conversation.objects.get(pk=chat.pk).department == cast.dept_b


def test_out_of_hours_never_moves_a_chat_to_an_empty_backup(cast):
    cfg = routing(cast.dept_a, mode=Mode.LOAD, use_schedule=True)
    now = timezone.now()
    later = timezone.localtime(now + timedelta(hours=2), ZoneInfo(settings.TIME_ZONE))  # hours are local times
    BusinessHours.objects.create(routing=cfg, weekday=later.weekday(), start=later.time().replace(microsecond=0),
                                 end=(later + timedelta(hours=1)).time().replace(microsecond=0))
    cast.dept_a.backup = cast.dept_b
    cast.dept_a.save()
    chat = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=chat.pk, now=now)
    chat.refresh_from_db()
    assert chat.department == cast.dept_a and chat.status == Status.UNASSIGNED
    assert chat.events.get(kind="escalation", reason="out_of_hours").payload["backup_unavailable"] == cast.dept_b.pk
    closed = Message.objects.get(conversation=chat, meta__routing="closed")
    assert "opens_at" in closed.meta  # the customer hears when we open


def test_reclaimed_chats_stay_in_their_department_when_nobody_else_can_take_them(cast):
    _backup_ladder(cast)
    online(cast.collab_a)
    chat = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    with_capture = services.presence_set(user=cast.collab_a, status=Presence.OFFLINE)
    assert with_capture.status == Presence.OFFLINE
    chat.refresh_from_db()
    assert chat.department == cast.dept_a and chat.status == Status.UNASSIGNED


# --- the customer hears the truth -----------------------------------------------------------------------

def _busy_department(cast, language: str):
    """Technical Support: one agent, full (2 of 2), recent chats took 10 minutes each."""
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=2)
    conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    now = timezone.now()
    for _i in range(3):
        done = conversation_in(cast, Status.ARCHIVED, assignee=cast.collab_a)
        Conversation.objects.filter(pk=done.pk).update(assigned_at=now - timedelta(minutes=20),
                                                        archived_at=now - timedelta(minutes=10))
    first = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=first.pk)
    chat = conversation_in(cast, Status.TRANSFER)
    Conversation.objects.filter(pk=chat.pk).update(language=language)
    services.routing_conversation_arrived(conversation_id=chat.pk)
    return Message.objects.get(conversation=chat, author_kind="system", meta__routing="waiting")


@pytest.mark.parametrize("language, expected", [
    ("es", "Sos el número 2 en la fila de Technical Support. Tiempo de espera estimado: unos 10 minutos."),
    ("en", "You are number 2 in line for Technical Support. Expected wait: about 10 minutes."),
])
def test_the_customer_gets_a_localized_notice_with_the_expected_wait(cast, language, expected):
    notice = _busy_department(cast, language)
    assert notice.body == expected and not notice.is_internal
    assert notice.meta["position"] == 2 and notice.meta["wait_minutes"] == 10


def test_the_notice_names_the_department_in_the_customers_language(cast):
    type(cast.dept_a).objects.filter(pk=cast.dept_a.pk).update(name_es="Soporte Técnico")
    assert _busy_department(cast, "es").body.startswith("Sos el número 2 en la fila de Soporte Técnico.")
    assert "in line for Technical Support." in _busy_department(cast, "en").body


def test_with_nobody_online_the_customer_is_told_so_and_the_operators_are_notified(cast):
    routing(cast.dept_a, mode=Mode.LOAD)  # no pick-up ladder: nobody else would hear about it
    chat = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=chat.pk)
    notice = Message.objects.get(conversation=chat, meta__routing="unavailable")
    assert notice.body.startswith("Nadie de Technical Support está disponible")
    assert Notification.objects.filter(conversation=chat, kind="nobody_available", user=cast.operator).exists()
    services.routing_conversation_arrived(conversation_id=chat.pk)  # a second route pass says nothing twice
    assert Message.objects.filter(conversation=chat, meta__routing="unavailable").count() == 1
    assert Notification.objects.filter(conversation=chat).count() == 1


# --- safe defaults in forms ------------------------------------------------------------------------------

def test_transfer_and_reassign_preselect_nothing_and_list_who_can_take_it_first(cast, client):
    online(cast.collab_ab, capacity=4)
    services.presence_set(user=cast.collab_b, status=Presence.OFFLINE)
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    client.force_login(cast.operator)
    page = client.get(reverse("conversation-detail", args=[conv.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    transfer = page[page.index('id="transfer-dept"'):]
    transfer = transfer[:transfer.index("</select>")]
    assert '<option value="" selected disabled>Choose a department</option>' in transfer
    assert transfer.count(" selected") == 1
    assert "Sales · 1 available" in transfer  # Collab_Ab (online, in both departments); Collab_B is offline
    reassign = page[page.index('id="reassign-to"'):]
    reassign = reassign[:reassign.index("</select>")]
    assert '<option value="" selected disabled>Choose a person</option>' in reassign
    assert reassign.count(" selected") == 1
    # Posting the form without a choice moves nothing and says why.
    resp = client.post(reverse("conversation-transfer", args=[conv.pk]), {"reason": "x"}, HTTP_ACCEPT_LANGUAGE="en",
                       follow=True)
    assert resp.status_code == 200 and "Choose another department." in resp.content.decode()
    resp = client.post(reverse("conversation-reassign", args=[conv.pk]), {"reason": "x"}, HTTP_ACCEPT_LANGUAGE="en",
                       follow=True)
    assert resp.status_code == 200 and "Choose who takes the conversation." in resp.content.decode()
    conv.refresh_from_db()
    assert conv.department == cast.dept_a and conv.assignee == cast.collab_a


def test_the_top_bar_offers_going_online_in_one_click(cast, client):
    client.force_login(cast.collab_a)
    page = client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="status" value="online"' in page and "Offline: no chats are assigned to you." in page
    client.post(reverse("routing-presence"), {"status": "online", "next": "/inbox/"})
    page = client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Offline: no chats are assigned to you." not in page


def test_the_demo_starts_with_the_day_shift_online(cast):
    from apps.routing import demo
    from tests.factories import make_user

    maria, tomas = make_user("maria", departments=[cast.dept_a]), make_user("night.tomas", departments=[cast.dept_a])
    services.presence_set(user=maria, status=Presence.OFFLINE)   # left offline by someone exploring it
    services.presence_set(user=tomas, status=Presence.OFFLINE)
    assert demo.day_shift_online() == 1
    assert status_of(maria) == Presence.ONLINE and status_of(tomas) == Presence.OFFLINE
    assert demo.day_shift_online() == 0  # idempotent
