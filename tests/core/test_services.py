"""The lifecycle service: legal and illegal moves, events, idempotent intake, bad input."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.conversations import services
from apps.conversations.models import Conversation, ConversationEvent, Message, Status
from apps.core.errors import AlreadyTaken, IllegalTransition, InvalidInput, NotAllowed
from tests.factories import conversation_in

pytestmark = pytest.mark.django_db


def kinds(conv):
    return list(ConversationEvent.objects.filter(conversation=conv).values_list("kind", flat=True))


def test_full_lifecycle_writes_one_event_per_step(cast):
    conv = conversation_in(cast, Status.ARCHIVED)
    assert kinds(conv) == ["created", "handoff", "queued", "assigned", "started", "archived"]
    events = list(ConversationEvent.objects.filter(conversation=conv))
    assert [(e.from_status, e.to_status) for e in events[1:]] == [
        ("bot", "transfer"), ("transfer", "unassigned"), ("unassigned", "assigned"),
        ("assigned", "in_progress"), ("in_progress", "archived")]
    assert events[1].actor_kind == "ai_agent" and events[1].actor is None
    assert events[1].payload["trigger"] == "explicit_request"
    assert events[4].actor == cast.collab_a
    assert conv.first_human_reply_at and conv.archived_at and conv.assigned_at


@pytest.mark.parametrize("start,call", [
    (Status.BOT, lambda c, cast: services.conversation_enqueue(conversation=c)),
    (Status.BOT, lambda c, cast: services.conversation_requeue(conversation=c)),
    (Status.UNASSIGNED, lambda c, cast: services.conversation_escalate(conversation=c, department=cast.dept_b)),
    (Status.ARCHIVED, lambda c, cast: services.conversation_archive(conversation=c, actor=cast.operator)),
    (Status.ARCHIVED, lambda c, cast: services.conversation_reassign(conversation=c, assignee=cast.collab_b,
                                                                     actor=cast.operator, reason="x")),
    (Status.IN_PROGRESS, lambda c, cast: services.conversation_rate(conversation=c, score=5)),
])
def test_illegal_moves_raise_and_change_nothing(cast, start, call):
    conv = conversation_in(cast, start)
    before = (conv.status, len(kinds(conv)))
    with pytest.raises((IllegalTransition, InvalidInput)):
        call(conv, cast)
    conv.refresh_from_db()
    assert (conv.status, len(kinds(conv))) == before


def test_pickup_second_collaborator_gets_already_taken(cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    services.conversation_pickup(conversation=conv, user=cast.collab_a)
    with pytest.raises(AlreadyTaken):
        services.conversation_pickup(conversation=conv, user=cast.collab_ab)
    conv.refresh_from_db()
    assert conv.assignee == cast.collab_a and kinds(conv).count("picked_up") == 1


def test_pickup_outside_own_departments_is_refused(cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b)
    with pytest.raises(NotAllowed):
        services.conversation_pickup(conversation=conv, user=cast.collab_a)


def test_department_permissions_are_per_department(cast):
    """A member without the archive permission in a department cannot archive there."""
    from apps.departments.services import membership_set

    membership_set(user=cast.collab_a, department=cast.dept_a, can_archive=False, can_transfer=False)
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    with pytest.raises(NotAllowed):
        services.conversation_archive(conversation=conv, actor=cast.collab_a)
    with pytest.raises(NotAllowed):
        services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.collab_a)
    services.conversation_archive(conversation=conv, actor=cast.operator)


def test_transfer_moves_to_other_department_queue(cast, django_capture_on_commit_callbacks):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.collab_a, reason="billing")
    conv.refresh_from_db()
    assert (conv.status, conv.department, conv.assignee) == (Status.UNASSIGNED, cast.dept_b, None)
    assert kinds(conv)[-2:] == ["transferred", "queued"]


def test_reassign_needs_operator_and_reason(cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    with pytest.raises(NotAllowed):
        services.conversation_reassign(conversation=conv, assignee=cast.collab_ab, actor=cast.collab_a, reason="x")
    with pytest.raises(InvalidInput):
        services.conversation_reassign(conversation=conv, assignee=cast.collab_ab, actor=cast.operator, reason=" ")
    services.conversation_reassign(conversation=conv, assignee=cast.collab_ab, actor=cast.operator, reason="load")
    event = ConversationEvent.objects.filter(conversation=conv, kind="reassigned").get()
    assert (event.from_assignee, event.to_assignee, event.reason, event.actor) == (
        cast.collab_a, cast.collab_ab, "load", cast.operator)


def test_collaborator_replies_only_in_own_chats(cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    with pytest.raises(NotAllowed):
        services.message_send_human(conversation=conv, user=cast.collab_ab, body="hi")
    services.message_send_human(conversation=conv, user=cast.operator, body="Operator here")
    conv.refresh_from_db()
    assert conv.status == Status.ASSIGNED  # an Operator's note does not start the assignee's clock
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola")
    conv.refresh_from_db()
    assert conv.status == Status.IN_PROGRESS


def test_message_receive_is_idempotent_on_provider_id(cast):
    m1, created1 = services.message_receive(channel=cast.channel, contact=cast.customer, body="hola", external_id="wamid.1")
    m2, created2 = services.message_receive(channel=cast.channel, contact=cast.customer, body="hola", external_id="wamid.1")
    assert (created1, created2) == (True, False) and m1.pk == m2.pk
    assert Message.objects.filter(external_id="wamid.1").count() == 1


@pytest.mark.parametrize("body", ["", "   ", "x" * 5000, None])
def test_bad_messages_are_refused_and_store_nothing(cast, body):
    with pytest.raises(InvalidInput):
        services.message_receive(channel=cast.channel, contact=cast.customer, body=body)
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_message_after_archive_opens_a_new_conversation(cast):
    old = conversation_in(cast, Status.ARCHIVED)
    msg, _ = services.message_receive(channel=cast.channel, contact=cast.customer, body="otra consulta")
    assert msg.conversation_id != old.pk and msg.conversation.status == Status.BOT


def test_reopen_goes_back_to_the_department_queue(cast):
    conv = conversation_in(cast, Status.ARCHIVED, department=cast.dept_a)
    services.conversation_reopen(conversation=conv, reason="customer came back")
    conv.refresh_from_db()
    assert (conv.status, conv.department, conv.assignee, conv.archived_at) == (Status.UNASSIGNED, cast.dept_a, None, None)


def test_csat_once_and_in_range(cast):
    conv = conversation_in(cast, Status.ARCHIVED)
    for bad in (0, 6, "5", True):
        with pytest.raises(InvalidInput):
            services.conversation_rate(conversation=conv, score=bad)
    services.conversation_rate(conversation=conv, score=4, comment="bien")
    with pytest.raises(AlreadyTaken):
        services.conversation_rate(conversation=conv, score=1)
    conv.refresh_from_db()
    assert conv.csat_score == 4 and kinds(conv)[-1] == "rated"


def test_events_are_append_only(cast):
    event = ConversationEvent.objects.first() or ConversationEvent.objects.filter(
        conversation=conversation_in(cast, Status.BOT)).first()
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_database_forbids_assigned_without_assignee(cast):
    from django.db import IntegrityError, transaction

    conv = conversation_in(cast, Status.BOT)
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=conv.pk).update(status=Status.ASSIGNED)


def test_live_signals_go_to_the_audience_only(cast, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("apps.core.realtime._send", lambda groups, event: sent.append((groups, event)))
    conv = conversation_in(cast, Status.TRANSFER, department=cast.dept_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_enqueue(conversation=conv)
    groups = set(sent[-1][0])
    assert f"user.{cast.collab_a.pk}" in groups and f"user.{cast.collab_ab.pk}" in groups
    assert f"user.{cast.operator.pk}" in groups and f"conversation.{conv.pk}" in groups
    assert f"user.{cast.collab_b.pk}" not in groups and f"user.{cast.outsider.pk}" not in groups
    assert set(sent[-1][1]) == {"what", "conversation", "department", "at"}  # a signal (and its server time), not data


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_pickup_on_postgres_has_exactly_one_winner(cast):
    """Real concurrent transactions: N collaborators click "pick up" on the same chat at once."""
    from apps.departments.services import membership_set
    from tests.factories import make_user

    racers = [cast.collab_a, cast.collab_ab] + [make_user(f"racer{i}", departments=[cast.dept_a]) for i in range(4)]
    for user in racers[2:]:
        membership_set(user=user, department=cast.dept_a)
    for _round in range(5):
        conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
        barrier = threading.Barrier(len(racers))
        results: dict[str, str] = {}

        def race(user):
            try:
                barrier.wait(timeout=10)
                services.conversation_pickup(conversation=conv.pk, user=user)
                results[user.username] = "won"
            except AlreadyTaken:
                results[user.username] = "taken"
            finally:
                connection.close()

        threads = [threading.Thread(target=race, args=(u,)) for u in racers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(results.values()) == ["taken"] * (len(racers) - 1) + ["won"]
        conv.refresh_from_db()
        winner = next(name for name, r in results.items() if r == "won")
        assert conv.assignee.username == winner and conv.status == Status.ASSIGNED
        assert ConversationEvent.objects.filter(conversation=conv, kind="picked_up").count() == 1


def test_a_locked_instance_is_reused_only_while_its_lock_is_held(cast):
    """``conversation_lock`` hands out the locked row; services given it in the same transaction do
    not read the chat again. Once its savepoint rolled back (PostgreSQL released that lock) the
    instance is read again, so a stale copy is never trusted."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    conv = conversation_in(cast, Status.UNASSIGNED)

    def chat_reads(queries):
        return [q for q in queries if q["sql"].startswith('SELECT "conversations_conversation"."id"')
                and f'"conversations_conversation"."id" = {conv.pk}' in q["sql"]]

    with transaction.atomic():
        locked = services.conversation_lock(conv.pk)
        with CaptureQueriesContext(connection) as ctx:
            services.conversation_record_escalation(conversation=locked, reason="test")
            services.message_post_system(conversation=locked, body="hola", internal=True)
        assert chat_reads(ctx.captured_queries) == []

    class Boom(Exception):
        pass

    with transaction.atomic():
        with pytest.raises(Boom), transaction.atomic():
            stale = services.conversation_lock(conv.pk)
            raise Boom
        stale.status = Status.ARCHIVED  # a copy nobody may trust now
        with CaptureQueriesContext(connection) as ctx:
            event = services.conversation_record_escalation(conversation=stale, reason="test")
        assert len(chat_reads(ctx.captured_queries)) == 1 and event.from_status == Status.UNASSIGNED
    with transaction.atomic():
        assert services.conversation_lock(10**9) is None  # gone: the caller decides
