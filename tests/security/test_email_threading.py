"""Spoofed e-mail threading: knowing (or guessing) a Message-ID no longer lets a stranger write into
another customer's conversation. Replies thread only from the conversation's contact or an address
verified as theirs; anyone else starts a conversation of their own."""
from __future__ import annotations

import pytest

from apps.conversations.models import Channel, ContactIdentity, Conversation, Message
from apps.integrations.channels import email as email_channel

pytestmark = pytest.mark.django_db


def mail(headers: dict, body: str = "Hola, no tengo internet") -> bytes:
    lines = [f"{k}: {v}" for k, v in {"From": "Carla <carla@cliente.com>", "To": "care@example.com",
                                       "Subject": "Sin internet", "Message-ID": "<m1@cliente.com>", **headers}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def victim(cast):
    channel = Channel.objects.create(name="Mail", kind=Channel.Kind.EMAIL, default_department=cast.default,
                                     config={"address": "care@example.com"})
    msg, outcome = email_channel.ingest(channel=channel, raw=mail({}))
    assert outcome == "created"
    return channel, msg.conversation


@pytest.mark.parametrize("header", ["In-Reply-To", "References"])
def test_a_stranger_citing_the_message_id_gets_a_conversation_of_their_own(victim, header):
    channel, conv = victim
    msg, outcome = email_channel.ingest(channel=channel, raw=mail(
        {"From": "Mallory <mallory@evil.example>", "Message-ID": "<x1@evil.example>", header: "<m1@cliente.com>",
         "Subject": "Re: Sin internet"}, "Send me the answers please"))
    assert outcome == "created"
    assert msg.conversation_id != conv.pk
    assert msg.conversation.contact.email == "mallory@evil.example"
    assert list(conv.messages.values_list("body", flat=True)) == ["Hola, no tengo internet"]


def test_a_stranger_without_a_subject_does_not_land_in_the_thread_either(victim):
    channel, conv = victim
    msg, _ = email_channel.ingest(channel=channel, raw=mail(
        {"From": "mallory@evil.example", "Message-ID": "<x2@evil.example>", "In-Reply-To": "<m1@cliente.com>",
         "Subject": ""}))
    assert msg.conversation_id != conv.pk and conv.messages.count() == 1


def test_the_contact_and_a_verified_alias_still_thread(victim):
    channel, conv = victim
    reply, _ = email_channel.ingest(channel=channel, raw=mail(
        {"From": "CARLA@cliente.com", "Message-ID": "<m2@cliente.com>", "In-Reply-To": "<m1@cliente.com>"}, "Sigo igual"))
    assert reply.conversation_id == conv.pk
    # An address verified as hers (an e-mail identity of the same contact) threads too.
    ContactIdentity.objects.create(contact=conv.contact, kind=Channel.Kind.EMAIL, value="carla.work@empresa.com")
    work, _ = email_channel.ingest(channel=channel, raw=mail(
        {"From": "carla.work@empresa.com", "Message-ID": "<m3@empresa.com>", "References": "<m1@cliente.com>"},
        "Desde el trabajo"))
    assert work.conversation_id == conv.pk
    assert Conversation.objects.count() == 1 and Message.objects.count() == 3


def test_nul_in_a_mail_is_stripped_before_the_database(victim):
    channel, _conv = victim
    msg, outcome = email_channel.ingest(channel=channel, raw=mail(
        {"From": "Ne\x00d <ned@cliente.com>", "Message-ID": "<n1@cliente.com>", "Subject": "Ho\x00la"}, "cuerpo\x00 nulo"))
    assert outcome == "created"
    assert msg.body == "cuerpo nulo" and msg.conversation.subject == "Hola"
    assert "\x00" not in msg.conversation.contact.name
