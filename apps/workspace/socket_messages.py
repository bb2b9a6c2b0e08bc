"""What each websocket message may contain, checked before a consumer acts on it.

A frame that is not JSON, too large, too deep, of an unknown type, or with a field of the wrong
type (``{"type": "hello", "token": 12345}`` used to close the widget socket with 1011) is answered
with an ``error`` frame naming the field; the socket stays open and nothing is stored.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.hostile import HostileInput, control_chars_find, json_loads_bounded

MAX_FRAME_BYTES = 64 * 1024  # a 4,096-character message is at most ~16 KB of UTF-8 JSON
MAX_DEPTH = 4

OPTIONAL = False
REQUIRED = True

# field -> (accepted types, required, longest string)
WIDGET_MESSAGES: dict[str, dict[str, tuple[tuple[type, ...], bool, int]]] = {
    "hello": {"token": ((str, type(None)), OPTIONAL, 1024), "customer_id": ((str, type(None)), OPTIONAL, 64),
              "signature": ((str, type(None)), OPTIONAL, 128), "name": ((str, type(None)), OPTIONAL, 200),
              "language": ((str, type(None)), OPTIONAL, 20)},
    "send": {"client_id": ((str,), REQUIRED, 64), "body": ((str,), REQUIRED, 16_384)},
    "sync": {"after": ((int, type(None)), OPTIONAL, 0)},
    "typing": {},
    "rate": {"conversation": ((int,), REQUIRED, 0), "score": ((int,), REQUIRED, 0),
             "comment": ((str, type(None)), OPTIONAL, 2000)},
    "ping": {},
    "profile": {"name": ((str, type(None)), OPTIONAL, 200), "email": ((str, type(None)), OPTIONAL, 254)},
}

STAFF_MESSAGES: dict[str, dict[str, tuple[tuple[type, ...], bool, int]]] = {
    "typing": {"conversation": ((int,), REQUIRED, 0)},
    "presence": {"away": ((bool,), REQUIRED, 0)},
    "ping": {},
}


class BadFrame(Exception):
    """``message`` stays lazy (the consumer renders it in the customer's language)."""

    def __init__(self, message, code: str = "invalid_input", field: str = ""):
        super().__init__(code)
        self.code, self.field = code, field
        self._message = message

    @property
    def message(self) -> str:
        text = str(self._message)
        return text % {"field": self.field} if "%(field)s" in text else text


def _type_ok(value, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:  # True is an int to Python, not to us
        return False
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 < value < 2**63:
        return False  # beyond a database integer: PostgreSQL would refuse it with an error
    return isinstance(value, types)


def frame_parse(text_data: str | None, bytes_data: bytes | None, schema: dict) -> dict:
    """The validated message, or ``BadFrame`` saying what is wrong with it."""
    if text_data is None:
        raise BadFrame(_("Messages must be JSON text."), "invalid_message")
    if len(text_data) > MAX_FRAME_BYTES:
        raise BadFrame(_("The message is too large."), "payload_too_large")
    try:
        content = json_loads_bounded(text_data, max_depth=MAX_DEPTH, max_bytes=MAX_FRAME_BYTES)
    except HostileInput as exc:
        raise BadFrame(exc.message, exc.code) from None
    if not isinstance(content, dict):
        raise BadFrame(_("A message must be a JSON object with a \"type\"."), "invalid_message")
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in schema:
        raise BadFrame(_("Unknown message type."), "unknown_type", "type")
    fields = schema[kind]
    for name, value in content.items():
        if name == "type":
            continue
        if name not in fields:
            continue  # unknown extra keys are ignored (older/newer widgets), never used
        types, _required, longest = fields[name]
        if not _type_ok(value, types):
            raise BadFrame(_("The field \"%(field)s\" has the wrong type."), "invalid_input", name)
        if isinstance(value, str) and len(value) > longest:
            raise BadFrame(_("The field \"%(field)s\" is too long."), "invalid_input", name)
    for name, (_types, required, _longest) in fields.items():
        if required and content.get(name) is None:
            raise BadFrame(_("The field \"%(field)s\" is required."), "invalid_input", name)
    if control_chars_find({k: v for k, v in content.items() if k in fields}):
        raise BadFrame(_("The input contains control characters (such as NUL), which are not accepted."),
                       "control_characters")
    return {"type": kind, **{k: v for k, v in content.items() if k in fields}}
