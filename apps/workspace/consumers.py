"""Websocket consumers: signals, not data (DESIGN.md invariant 4).

* ``StaffConsumer`` (``/ws/staff/``): an authenticated, active staff user joins only their own
  group ``user.<id>``. Services already send to the exact audience computed by
  ``access.conversation_audience``; the page re-fetches through normal views.
* ``WidgetConsumer`` (``/ws/widget/?key=<public key>``): a customer joins only
  ``conversation.<id>`` groups of their own conversations. It answers the widget's explicit
  requests (send, sync after the last seen id, rate) for that visitor only. Everything it says to
  the customer is in the conversation's language, else the widget page's (``?lang=`` / hello).

Typing indicators are signals too: they name the conversation and who is typing (a role, never
text), and go to the same audience as any other change of that conversation.
"""
from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy

from apps.conversations import access, services
from apps.conversations.models import Conversation
from apps.core.errors import DomainError
from apps.core.realtime import conversation_group, user_group

from . import presence, socket_messages, widget

try:  # routing owns presence; the workspace works without it (see presence.py)
    from apps.routing.presence import presence_heartbeat_loop as routing_heartbeat_loop
except ImportError:  # pragma: no cover
    routing_heartbeat_loop = None

log = logging.getLogger(__name__)

TYPING_EVERY = 2.0  # seconds between typing signals from one connection for one conversation


def _in_language(active: str, fn, /, *args, **kwargs):
    """Run ``fn`` with the language ``active``: service errors are translated when raised."""
    with translation.override(active):
        return fn(*args, **kwargs)


def _typing_groups(conversation_id: int, exclude_user: int | None = None) -> list[str]:
    conv = Conversation.objects.filter(pk=conversation_id).first()
    if conv is None:
        return []
    return [user_group(uid) for uid in access.conversation_audience(conv) if uid != exclude_user]


class _Base(AsyncJsonWebsocketConsumer):
    groups_joined: set
    messages_schema: dict = {}

    def _language(self) -> str:
        return settings.LANGUAGE_CODE

    async def _error(self, message, code: str, **extra):
        with translation.override(self._language()):
            message = str(message)  # lazy texts are rendered in the reader's language
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Every frame is checked against ``messages_schema`` first: a bad one gets an error frame
        (never a crash that closes the socket) and reaches no handler (socket_messages.py)."""
        with translation.override(self._language()):
            try:
                content = socket_messages.frame_parse(text_data, bytes_data, self.messages_schema)
            except socket_messages.BadFrame as exc:
                await self.send_json({"type": "error", "code": exc.code, "message": exc.message,
                                      **({"field": exc.field} if exc.field else {})})
                return
        await self.receive_json(content, **kwargs)

    async def dispatch(self, message):
        # Channels runs close_old_connections() in the single sync thread before EVERY handler.
        # A signal is forwarded without touching the database, and with 200 screens per change
        # that hop was the whole fan-out cost (bench/fanout.py): skip it for signals only.
        if message.get("type") == "signal":
            await self.signal(message)
            return
        await super().dispatch(message)

    async def _join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _typing_allowed(self, conversation_id) -> bool:
        now = time.monotonic()
        last = self._typing_sent.get(conversation_id, 0.0)
        if now - last < TYPING_EVERY:
            return False
        self._typing_sent[conversation_id] = now
        return True

    async def _send_typing(self, groups: list[str], conversation_id: int, by: str, at: float) -> None:
        """``at``: when the keystroke's frame arrived (epoch ms). A screen drops a typing signal older
        than the last message signal of that chat: typing that was about the message just sent
        (delivered after it, the visibility check queued behind the send) must not linger."""
        for group in groups:
            await self.channel_layer.group_send(group, {"type": "signal", "what": "typing", "by": by, "at": at,
                                                        "conversation": conversation_id, "department": None})


class StaffConsumer(_Base):
    messages_schema = socket_messages.STAFF_MESSAGES

    def _language(self) -> str:
        user = self.scope.get("user")
        return getattr(user, "language", "") or settings.LANGUAGE_CODE

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.user_id = user.pk
        self.groups_joined = set()
        self._typing_sent = {}
        await self._join(user_group(user.pk))
        await database_sync_to_async(presence.connected)(user.pk)
        self._presence = True
        if routing_heartbeat_loop is not None:
            # A sign of life every few seconds while this socket is open: if the server process
            # dies, the beats stop and routing's sweep takes the person offline (no chat is orphaned).
            self._heartbeat = asyncio.ensure_future(routing_heartbeat_loop(user.pk))
        await self.accept()

    async def disconnect(self, code):
        await super().disconnect(code)
        if getattr(self, "_heartbeat", None) is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if getattr(self, "_presence", False):
            self._presence = False
            await database_sync_to_async(presence.disconnected)(self.user_id)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "typing":
            try:
                conv_id = int(content.get("conversation"))
            except (TypeError, ValueError):
                return
            if not await self._typing_allowed(conv_id):
                return
            at = time.time() * 1000
            groups = await database_sync_to_async(self._staff_typing_groups)(conv_id)
            await self._send_typing(groups, conv_id, "human", at)
        elif kind == "presence":
            await database_sync_to_async(presence.set_away)(self.user_id, bool(content.get("away")))
        elif kind == "ping":
            await self.send_json({"type": "pong"})

    def _staff_typing_groups(self, conv_id: int) -> list[str]:
        user = self.scope["user"]
        # Only someone who may reply is "typing"; visibility is re-checked on every signal.
        if not access.conversations_visible_to(user, "reply").filter(pk=conv_id).exists():
            return []
        return _typing_groups(conv_id, exclude_user=user.pk) + [conversation_group(conv_id)]

    async def signal(self, event):
        await self.send_json({"type": "signal", "what": event.get("what", "conversation"),
                              "conversation": event.get("conversation"), "department": event.get("department"),
                              **{k: event[k] for k in ("by", "at") if k in event}})


class WidgetConsumer(_Base):
    """The customer's socket. Origin and public key are checked before the handshake completes."""

    messages_schema = socket_messages.WIDGET_MESSAGES

    async def connect(self):
        self.groups_joined = set()
        self._typing_sent = {}
        self.visitor = None
        self.conversation_language = ""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("key") or [""])[0]
        self.page_language = widget.language_supported((query.get("lang") or [""])[0])
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        self.channel_obj = await database_sync_to_async(widget.channel_by_key)(key)
        if self.channel_obj is None or not widget.origin_allowed(self.channel_obj, origin, self.scope):
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        client = self.scope.get("client") or ["?"]
        self.client_ip = str(client[0])
        await self.accept()

    def _language(self) -> str:
        """The customer's language: their conversation's, else the page's, else the site default."""
        return self.conversation_language or self.page_language or settings.LANGUAGE_CODE

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
            return
        if kind == "ping":  # a keep-alive needs no visitor
            await self.send_json({"type": "pong"})
            return
        if self.visitor is None:
            await self._error(gettext_lazy("Say hello first."), "unauthorized")
            return
        if kind == "send":
            await self._send_message(content)
        elif kind == "sync":
            await self._sync_after(content.get("after"))
        elif kind == "typing":
            await self._typing()
        elif kind == "rate":
            await self._rate(content)
        elif kind == "profile":
            await self._profile(content)

    async def _profile(self, content):
        try:
            self.visitor = await database_sync_to_async(_in_language)(
                self._language(), widget.visitor_profile_set, self.visitor,
                name=str(content.get("name") or ""), email=str(content.get("email") or ""))
        except DomainError as exc:
            await self._error(exc.message, exc.code, field="email")
            return
        await self.send_json({"type": "profile_saved"})

    async def _hello(self, content):
        if not widget.rate_allow(f"hello.{self.client_ip}", widget.HELLOS_PER_MINUTE):
            await self._error(gettext_lazy("Too many attempts. Please wait a minute."), "rate_limited")
            await self.close(code=4429)
            return
        self.page_language = widget.language_supported(content.get("language")) or self.page_language
        try:
            # Read only: a page view creates nothing; the Contact comes with the first message.
            self.visitor = await database_sync_to_async(_in_language)(
                self._language(), widget.visitor_authenticate,
                self.channel_obj, token=content.get("token"), customer_id=content.get("customer_id"),
                signature=content.get("signature"), name=str(content.get("name") or ""),
                language=self.page_language)
        except widget.WidgetAuthError as exc:
            await self._error(exc.message, exc.code)
            await self.close(code=4403)
            return
        await self._join_own()
        # The greeting and the wait for a person right now, in the customer's language.
        opening = await database_sync_to_async(widget.visitor_welcome)(self.channel_obj, self._language())
        await self.send_json({"type": "welcome", "token": self.visitor.token, **opening,
                              "profile": {"name": self.visitor.name if self.visitor.contact_id else "",
                                          "email": self.visitor.email}})

    async def _join_own(self):
        for pk in await database_sync_to_async(widget.open_conversation_ids)(self.visitor):
            await self._join(conversation_group(pk))

    async def _send_message(self, content):
        client_id = str(content.get("client_id") or "")
        if not widget.CLIENT_ID_RE.match(client_id):
            await self._error(gettext_lazy("Invalid message id."), "invalid_input")
            return
        if not widget.rate_allow(f"msg.{self.channel_obj.pk}.{self.visitor.visitor_id}", widget.MESSAGES_PER_MINUTE):
            await self._error(gettext_lazy("You are sending messages too fast. Please wait a moment."), "rate_limited",
                              client_id=client_id)
            return
        try:
            msg = await database_sync_to_async(_in_language)(self._language(), self._receive,
                                                             str(content.get("body") or ""), client_id)
        except DomainError as exc:
            await self._error(exc.message, exc.code, client_id=client_id)
            return
        await self._join(conversation_group(msg.conversation_id))
        self._typing_sent.clear()  # the message ended this burst of typing
        await self.send_json({"type": "ack", "client_id": client_id, "id": msg.pk})

    def _receive(self, body: str, client_id: str):
        from apps.conversations.models import Contact

        services.clean_body(body)  # an empty message creates no Contact either
        # The first message creates the Contact (the hello wrote nothing); later ones reuse it.
        self.visitor = widget.visitor_contact_ensure(self.visitor)
        contact = Contact.objects.get(pk=self.visitor.contact_id)
        # The client id makes a resend after a dropped connection idempotent (same provider id).
        msg, _created = services.message_receive(channel=self.channel_obj, contact=contact, body=body,
                                                 external_id=f"widget:{self.visitor.visitor_id}:{client_id}",
                                                 language=self.visitor.language)
        language = Conversation.objects.filter(pk=msg.conversation_id).values_list("language", flat=True).first()
        self.conversation_language = widget.language_supported(language) or self.conversation_language
        return msg

    async def _sync_after(self, after):
        self.visitor = await database_sync_to_async(widget.visitor_refresh)(self.visitor)
        data = await database_sync_to_async(widget.visitor_sync)(self.visitor, after)
        if data["state"] and data["state"]["language"]:
            self.conversation_language = data["state"]["language"]
        await self._join_own()
        await self.send_json(data)

    async def _typing(self):
        at = time.time() * 1000
        conv_ids = await database_sync_to_async(lambda: list(
            widget.visitor_conversations(self.visitor).exclude(status="archived").values_list("pk", flat=True)))()
        for conv_id in conv_ids:
            if await self._typing_allowed(conv_id):
                groups = await database_sync_to_async(_typing_groups)(conv_id)
                await self._send_typing(groups, conv_id, "customer", at)

    async def _rate(self, content):
        try:
            score = int(content.get("score"))
        except (TypeError, ValueError):
            score = 0
        conv = await database_sync_to_async(widget.visitor_conversation)(self.visitor, content.get("conversation"))
        if conv is None:
            await self._error(gettext_lazy("No such conversation."), "not_found")
            return
        try:
            await database_sync_to_async(_in_language)(
                self._language(), services.conversation_rate,
                conversation=conv, score=score, comment=str(content.get("comment") or "")[:2000])
        except DomainError as exc:
            await self._error(exc.message, exc.code)
            return
        await self.send_json({"type": "rated", "conversation": conv.pk})

    async def signal(self, event):
        # The customer learns only that their conversation changed (or who is typing), then syncs.
        if event.get("what") == "typing" and event.get("by") != "human":
            return
        await self.send_json({"type": "signal", "what": event.get("what", "conversation"),
                              "conversation": event.get("conversation"),
                              **{k: event[k] for k in ("by", "at") if k in event}})
