"""At most one open conversation per customer and channel, enforced by the database; two first
messages racing (one per web process) land in one chat."""
from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from apps.conversations import services
from apps.conversations.models import Contact, Conversation, Message, Status
from apps.core.errors import ConversationAlreadyOpen
from tests.factories import conversation_in


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_messages_racing_on_postgres_open_one_conversation(cast, monkeypatch):
    """Two real threads (two transactions), both past the "no open chat yet" check before either
    inserts: the unique index lets one start the chat and the other appends to it."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    real_start = services.conversation_start
    for round_ in range(5):
        contact = Contact.objects.create(name=f"Nuevo {round_}")
        both_decided = threading.Barrier(2)

        def start_after_both_decided(**kwargs):
            try:
                both_decided.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
            return real_start(**kwargs)

        monkeypatch.setattr(services, "conversation_start", start_after_both_decided)
        errors: list[BaseException] = []

        def first_message(i):
            try:
                services.message_receive(channel=cast.channel, contact=contact, body=f"hola {i}",
                                         external_id=f"race-{round_}-{i}")
            except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=first_message, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        convs = list(Conversation.objects.filter(contact=contact, channel=cast.channel))
        assert len(convs) == 1, f"round {round_}: {len(convs)} conversations"
        assert sorted(Message.objects.filter(conversation=convs[0], author_kind="customer").values_list("body", flat=True)) == ["hola 0", "hola 1"]


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_conversation(cast):
    conversation_in(cast, Status.BOT, contact=cast.customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.create(contact=cast.customer, channel=cast.channel, status=Status.UNASSIGNED,
                                    department=cast.dept_a)


@pytest.mark.django_db
def test_starting_a_second_one_says_which_is_open_and_a_message_goes_there(cast):
    first = conversation_in(cast, Status.IN_PROGRESS, contact=cast.customer)
    with pytest.raises(ConversationAlreadyOpen) as err:
        services.conversation_start(contact=cast.customer, channel=cast.channel)
    assert err.value.conversation_id == first.pk and f"#{first.pk}" in err.value.message
    msg, created = services.message_receive(channel=cast.channel, contact=cast.customer, body="sigo acá")
    assert created and msg.conversation_id == first.pk


@pytest.mark.django_db
def test_reopening_an_old_chat_while_another_is_open_is_refused_clearly(cast):
    old = conversation_in(cast, Status.ARCHIVED, contact=cast.customer)
    current = conversation_in(cast, Status.BOT, contact=cast.customer)
    with pytest.raises(ConversationAlreadyOpen) as err:
        services.conversation_reopen(conversation=old, actor=cast.operator)
    assert err.value.conversation_id == current.pk
    old.refresh_from_db()
    assert old.status == Status.ARCHIVED


@pytest.mark.django_db(transaction=True)
def test_the_migration_archives_existing_duplicates_keeping_the_one_in_a_queue(cast, migrations_restored):
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("conversations", "0004_attachments")], [("conversations", "0005_one_open_conversation")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("conversations", "Conversation")
    bot = old.objects.create(contact_id=cast.customer.pk, channel_id=cast.channel.pk, status="bot")
    queued = old.objects.create(contact_id=cast.customer.pk, channel_id=cast.channel.pk, status="unassigned",
                                department_id=cast.dept_a.pk)
    other = old.objects.create(contact_id=cast.customer.pk, channel_id=cast.channel.pk, status="archived")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    statuses = dict(Conversation.objects.filter(pk__in=[bot.pk, queued.pk, other.pk]).values_list("pk", "status"))
    assert statuses == {bot.pk: "archived", queued.pk: "unassigned", other.pk: "archived"}
    closed = Conversation.objects.only("id", "resolution").get(pk=bot.pk)  # columns that exist at 0005
    assert closed.resolution == "duplicate" and closed.events.get(kind="archived").payload == {"duplicate_of": queued.pk}
