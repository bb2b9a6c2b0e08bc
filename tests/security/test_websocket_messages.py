"""Every widget and staff websocket message type with wrong types, plus frames that are not JSON,
too deep or too large: each gets an ``error`` frame (never a crash closing the socket with 1011),
the socket stays usable, and nothing is stored."""
from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from apps.conversations.models import Status
from apps.workspace.consumers import StaffConsumer, WidgetConsumer
from tests.factories import conversation_in

from .conftest import stored_counts

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "pk-security-widget"
SHOP = "https://shop.example"

# Frames that are wrong before any type is looked at.
BAD_FRAMES = [
    ("{", "malformed_json"),
    ("[1, 2]", "invalid_message"),
    ('"hello"', "invalid_message"),
    ("null", "invalid_message"),
    ('{"no_type": 1}', "unknown_type"),
    ('{"type": 5}', "unknown_type"),
    ('{"type": "drop_tables"}', "unknown_type"),
    ('{"type": "ping", "x": ' + "[" * 5000 + "]" * 5000 + "}", "json_too_deep"),
    ('{"type": "ping", "x": [[[[[[1]]]]]]}', "json_too_deep"),
    ('{"type": "ping", "pad": "' + "x" * 70_000 + '"}', "payload_too_large"),
]

WIDGET_BAD = [
    {"type": "hello", "token": 12345},
    {"type": "hello", "token": ["a"]},
    {"type": "hello", "customer_id": 5},
    {"type": "hello", "signature": {"a": 1}},
    {"type": "hello", "name": 7},
    {"type": "hello", "language": ["es"]},
    {"type": "hello", "name": "Nora\u0000"},
    {"type": "hello", "token": "t" * 5000},
    {"type": "send", "body": 5, "client_id": "c1"},
    {"type": "send", "client_id": "c1"},
    {"type": "send", "body": "hola", "client_id": 123},
    {"type": "send", "body": "hola"},
    {"type": "send", "body": "hola\u0000", "client_id": "c1"},
    {"type": "send", "body": ["hola"], "client_id": "c1"},
    {"type": "sync", "after": "abc"},
    {"type": "sync", "after": 1.5},
    {"type": "sync", "after": True},
    {"type": "rate", "conversation": "x", "score": 5},
    {"type": "rate", "conversation": 1, "score": "5"},
    {"type": "rate", "conversation": 10 ** 30, "score": 5},
    {"type": "rate", "conversation": 1, "score": 5, "comment": 3},
    {"type": "rate", "score": 5},
]

STAFF_BAD = [
    {"type": "typing", "conversation": "1"},
    {"type": "typing"},
    {"type": "typing", "conversation": 1.5},
    {"type": "typing", "conversation": 10 ** 30},
    {"type": "typing", "conversation": False},
    {"type": "presence", "away": "yes"},
    {"type": "presence", "away": 1},
    {"type": "presence"},
]


@pytest.fixture
def webchat(cast):
    cast.channel.config = {"public_key": KEY, "allowed_origins": [SHOP]}
    cast.channel.save(update_fields=["config"])
    return cast


async def _expect_error(comm, frame: str, code: str | None = None) -> dict:
    await comm.send_to(text_data=frame)
    reply = await comm.receive_json_from(timeout=5)
    assert reply["type"] == "error", (frame[:80], reply)
    if code:
        assert reply["code"] == code, (frame[:80], reply)
    await comm.send_json_to({"type": "ping"})  # still open and answering
    assert (await comm.receive_json_from(timeout=5)) == {"type": "pong"}, frame[:80]
    return reply


def test_widget_answers_every_bad_frame_with_an_error_frame(webchat):
    before = stored_counts()

    async def run():
        comm = WebsocketCommunicator(WidgetConsumer.as_asgi(), f"/ws/widget/?key={KEY}",
                                     headers=[(b"origin", SHOP.encode())])
        ok, _ = await comm.connect()
        assert ok
        for frame, code in BAD_FRAMES:
            await _expect_error(comm, frame, code)
        # The probe, before any hello: a wrong type, not "say hello first", not a 1011.
        reply = await _expect_error(comm, json.dumps({"type": "hello", "token": 12345}), "invalid_input")
        assert reply["field"] == "token"
        await comm.send_json_to({"type": "hello"})
        assert (await comm.receive_json_from())["type"] == "welcome"
        for message in WIDGET_BAD:
            await _expect_error(comm, json.dumps(message))
        await comm.send_to(bytes_data=b"\x00\x01")
        assert (await comm.receive_json_from())["code"] == "invalid_message"
        await comm.disconnect()

    async_to_sync(run)()
    assert stored_counts() == before


def test_widget_error_frames_speak_the_page_language(webchat):
    async def run():
        comm = WebsocketCommunicator(WidgetConsumer.as_asgi(), f"/ws/widget/?key={KEY}&lang=en",
                                     headers=[(b"origin", SHOP.encode())])
        await comm.connect()
        reply = await _expect_error(comm, json.dumps({"type": "hello", "token": 12345}), "invalid_input")
        await comm.disconnect()
        return reply

    assert async_to_sync(run)()["message"] == 'The field "token" has the wrong type.'


def test_staff_socket_answers_every_bad_frame_with_an_error_frame(cast):
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    before = stored_counts()

    async def run():
        comm = WebsocketCommunicator(StaffConsumer.as_asgi(), "/ws/staff/")
        comm.scope["user"] = cast.collab_a
        ok, _ = await comm.connect()
        assert ok
        for frame, code in BAD_FRAMES:
            await _expect_error(comm, frame, code)
        for message in STAFF_BAD + [{"type": "send", "body": "x"}, {"type": "hello"}]:
            await _expect_error(comm, json.dumps(message))
        await comm.disconnect()

    async_to_sync(run)()
    assert stored_counts() == before
