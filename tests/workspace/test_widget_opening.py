"""The widget when it opens (issue 15): a greeting, the wait for a person right now (routing's
estimate), the optional name and e-mail before or during the chat, typing signals a screen can
tell are stale, and department names in the customer's language."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from apps.conversations.models import Contact, ContactIdentity
from apps.routing.models import AgentPresence, DepartmentRouting, Mode, Presence
from apps.workspace import widget

from .test_widget_socket import _comm, _comm_lang, _hello, _until, webchat  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _online(user):
    AgentPresence.objects.update_or_create(user=user, defaults={"status": Presence.ONLINE, "capacity": 3})


def test_welcome_greets_and_tells_the_wait_in_the_page_language(webchat):
    async def welcome(lang):
        comm = _comm_lang(lang)
        ok, _ = await comm.connect()
        assert ok
        await comm.send_json_to({"type": "hello", "language": lang})
        msg = await comm.receive_json_from()
        await comm.disconnect()
        return msg

    nobody_es = async_to_sync(welcome)("es")
    assert nobody_es["type"] == "welcome" and nobody_es["token"]
    assert nobody_es["greeting"].startswith("¡Hola!")
    assert "Nadie de Customer Service" in nobody_es["wait"]

    webchat.default.name_es = "Atención al Cliente"
    webchat.default.save()
    _online(webchat.operator)
    from apps.departments.services import membership_set

    membership_set(user=webchat.operator, department=webchat.default)
    DepartmentRouting.objects.update_or_create(department=webchat.default, defaults={"mode": Mode.LOAD})
    now_es = async_to_sync(welcome)("es")
    assert now_es["wait"] == "Si necesitás una persona, alguien de Atención al Cliente está disponible ahora."
    now_en = async_to_sync(welcome)("en")
    assert now_en["greeting"].startswith("Hello!")
    assert now_en["wait"] == "If you need a person, someone from Customer Service is available now."
    # Picked up by hand: routing's estimate is how fast people pick up (a minute with no history).
    DepartmentRouting.objects.filter(department=webchat.default).update(mode=Mode.MANUAL)
    assert async_to_sync(welcome)("es")["wait"] == \
        "Si necesitás una persona, la espera en Atención al Cliente es de unos 1 minuto."

    webchat.channel.config = {**webchat.channel.config, "greeting": {"es": "¡Bienvenida a FibraSur!"}}
    webchat.channel.save()
    assert async_to_sync(welcome)("es")["greeting"] == "¡Bienvenida a FibraSur!"
    assert async_to_sync(welcome)("en")["greeting"].startswith("Hello!")  # no English one: ours


def test_name_and_email_before_the_first_message_create_nothing_then_start_the_contact(webchat):
    async def run():
        comm = _comm()
        await _hello(comm)
        await comm.send_json_to({"type": "profile", "name": "Ana  Pérez", "email": "no-es-un-correo"})
        bad = await _until(comm, "error")
        await comm.send_json_to({"type": "profile", "name": "Ana  Pérez", "email": "ana@example.com"})
        saved = await _until(comm, "profile_saved")
        before = await database_sync_to_async(lambda: ContactIdentity.objects.filter(kind="webchat").count())()
        await comm.send_json_to({"type": "send", "body": "hola", "client_id": "p1"})
        await _until(comm, "ack")
        # During the chat: a new address replaces the one given before.
        await comm.send_json_to({"type": "profile", "name": "Ana Pérez", "email": "ana.perez@example.com"})
        await _until(comm, "profile_saved")
        await comm.disconnect()
        return bad, saved, before

    bad, saved, before = async_to_sync(run)()
    assert bad["code"] == "invalid_input" and bad["field"] == "email"
    assert saved == {"type": "profile_saved"}
    assert before == 0  # a page view and its details write nothing
    contact = ContactIdentity.objects.get(kind="webchat").contact
    assert (contact.name, contact.email) == ("Ana Pérez", "ana.perez@example.com")
    assert not ContactIdentity.objects.filter(kind="email").exists()  # a note, never an e-mail identity


def test_an_identified_customer_only_fills_what_is_empty(webchat, monkeypatch):
    monkeypatch.setenv(f"WEBCHAT_SECRET_{webchat.channel.pk}", "s3cret")
    known = Contact.objects.create(name="Carla Known", email="", external_ref="C-77")
    sig = widget.identity_signature("s3cret", "C-77")

    async def run():
        comm = _comm()
        await _hello(comm, customer_id="C-77", signature=sig)
        await comm.send_json_to({"type": "send", "body": "hola", "client_id": "k1"})
        await _until(comm, "ack")
        await comm.send_json_to({"type": "profile", "name": "Someone Else", "email": "carla@example.com"})
        await _until(comm, "profile_saved")
        await comm.disconnect()

    async_to_sync(run)()
    known.refresh_from_db()
    assert (known.name, known.email) == ("Carla Known", "carla@example.com")


def test_typing_and_message_signals_carry_their_time_so_screens_drop_stale_typing(webchat):
    """Staff typing reaches the widget stamped with when it was said, and the message signal with
    when the message was stored: a typing signal delivered after the message (it was about that
    message) is older than it, and the widget and staff screens ignore it."""
    from apps.conversations import services
    from apps.conversations.models import Conversation, Message, Status
    from apps.workspace.consumers import StaffConsumer
    from channels.testing import WebsocketCommunicator

    async def run():
        comm = _comm()
        await _hello(comm)
        await comm.send_json_to({"type": "send", "body": "necesito una persona", "client_id": "t1"})
        ack = await _until(comm, "ack")

        def to_agent():
            conv = Message.objects.get(pk=ack["id"]).conversation
            if conv.status == Status.BOT:  # the AI Agent may have handed it off already
                services.conversation_escalate(conversation=conv, department=webchat.dept_a, trigger="explicit_request")
            conv.refresh_from_db()
            if conv.status == Status.TRANSFER:
                services.conversation_enqueue(conversation=conv)
            conv.refresh_from_db()
            if conv.assignee_id is None:
                services.conversation_pickup(conversation=conv.pk, user=webchat.operator)
            return conv.pk, Conversation.objects.get(pk=conv.pk).assignee

        conv_id, agent = await database_sync_to_async(to_agent)()
        staff = WebsocketCommunicator(StaffConsumer.as_asgi(), "/ws/staff/")
        staff.scope["user"] = agent
        ok, _ = await staff.connect()
        assert ok
        await staff.send_json_to({"type": "typing", "conversation": conv_id})
        typing = await _until(comm, "signal")
        while typing.get("what") != "typing":
            typing = await _until(comm, "signal")
        await database_sync_to_async(services.message_send_human)(conversation=conv_id, user=agent, body="Hola")
        # The first reply: a message that also moves the chat to "in progress" (one signal).
        message = await _until(comm, "signal")
        while message.get("what") == "typing":
            message = await _until(comm, "signal")
        await staff.disconnect()
        await comm.disconnect()
        return typing, message

    typing, message = async_to_sync(run)()
    assert typing["by"] == "human" and isinstance(typing["at"], float)
    assert message["what"] in ("message", "conversation")
    assert isinstance(message["at"], float) and message["at"] > typing["at"]


def test_department_and_topic_names_follow_the_reader(webchat):
    from django.utils import translation

    from apps.agent.models import Topic
    from apps.departments.names import localized_name

    webchat.dept_a.name_es = "Soporte Técnico"
    webchat.dept_a.save()
    topic = Topic.objects.create(name="Billing", slug="billing", name_es="Facturación")
    with translation.override("es"):
        assert (str(webchat.dept_a), str(topic), str(webchat.dept_b)) == ("Soporte Técnico", "Facturación", "Sales")
    with translation.override("en"):
        assert (str(webchat.dept_a), str(topic)) == ("Technical Support", "Billing")
    assert localized_name(webchat.dept_a, "es-AR") == "Soporte Técnico"
    assert localized_name(webchat.dept_a, "fr") == "Technical Support"


def test_the_admin_edits_names_per_language_as_fields(webchat, client):
    from apps.agent.models import Topic

    topic = Topic.objects.create(name="Billing", slug="billing")
    webchat.operator.is_staff = True
    webchat.operator.save()
    client.force_login(webchat.operator)
    dept_page = client.get(f"/admin/departments/department/{webchat.dept_a.pk}/change/").content.decode()
    topic_page = client.get(f"/admin/agent/topic/{topic.pk}/change/").content.decode()
    for page in (dept_page, topic_page):
        assert 'name="name_es"' in page and 'name="name_en"' in page


def test_the_timeline_names_the_department_in_the_readers_language(webchat):
    from django.utils import translation

    from apps.conversations.models import ConversationEvent, Status
    from apps.workspace.timeline import event_text
    from tests.factories import conversation_in

    webchat.dept_a.name_es = "Soporte Técnico"
    webchat.dept_a.save()
    conv = conversation_in(webchat, Status.UNASSIGNED, department=webchat.dept_a)
    queued = ConversationEvent.objects.filter(conversation=conv, kind="queued").select_related("to_department").get()
    with translation.override("es"):
        assert "Soporte Técnico" in event_text(queued)
    with translation.override("en"):
        assert "Technical Support" in event_text(queued)
