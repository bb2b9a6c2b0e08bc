"""Defences against hostile input, shared by every entry point (HTTP, API, webhooks, websockets).

* ``json_loads_bounded``: JSON with a size and a nesting-depth bound. A body of 20,000 nested
  ``[`` must be a 400, not a ``RecursionError`` (a 500) in the parser or in whatever walks the
  result later (serializers, the JSON column, the provider parsers).
* ``control_chars_find`` / ``control_chars_strip``: NUL and the other C0 control characters
  (tab, line feed and carriage return excepted). PostgreSQL refuses NUL in text and jsonb
  (``psycopg.DataError``, a 500), and the others are never meaningful in a chat, a name or a search.
  People-facing input (forms, query strings, the API, the widget) is *rejected* with a clear 400 so
  the sender can fix it; signed provider payloads (webhooks, e-mail) are *stripped*, because a
  provider re-sends the same body forever and rejecting it would lose the customer's message.
* ``spreadsheet_safe``: a CSV cell that a spreadsheet would run as a formula (``=HYPERLINK(...)``)
  is written with a leading apostrophe, the OWASP-recommended neutralisation.
"""
from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings

# C0 controls except \t \n \r, plus DEL: never part of legitimate text typed by a person.
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def json_max_depth() -> int:
    return int(getattr(settings, "JSON_MAX_DEPTH", 32))


def json_max_bytes() -> int:
    return int(getattr(settings, "JSON_MAX_BYTES", 1024 * 1024))


class HostileInput(ValueError):
    """Input refused before it reaches a service; ``code`` is stable for API clients."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


def _too_deep(value: Any, limit: int) -> bool:
    """Iterative (a recursive walk would itself overflow on the input it is guarding against)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_loads_bounded(raw: bytes | str, *, max_depth: int | None = None, max_bytes: int | None = None) -> Any:
    """Parse JSON or raise ``HostileInput`` (malformed, too large, or nested deeper than allowed)."""
    from django.utils.translation import gettext as _

    max_depth = max_depth or json_max_depth()
    max_bytes = max_bytes or json_max_bytes()
    if len(raw) > max_bytes:
        raise HostileInput(_("The body is larger than %(n)d bytes.") % {"n": max_bytes}, "payload_too_large")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise HostileInput(_("The JSON is nested deeper than %(n)d levels.") % {"n": max_depth},
                           "json_too_deep") from None
    except (ValueError, UnicodeDecodeError, TypeError):
        raise HostileInput(_("The body is not valid JSON."), "malformed_json") from None
    if _too_deep(value, max_depth):
        raise HostileInput(_("The JSON is nested deeper than %(n)d levels.") % {"n": max_depth}, "json_too_deep")
    return value


def control_chars_find(value: Any) -> bool:
    """True when any string (key or value) in ``value`` holds a forbidden control character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if CONTROL_CHARS_RE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def control_chars_strip(value: Any) -> Any:
    """A copy of ``value`` with forbidden control characters removed from every string."""
    if isinstance(value, str):
        return CONTROL_CHARS_RE.sub("", value)
    if isinstance(value, dict):
        return {control_chars_strip(k): control_chars_strip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [control_chars_strip(v) for v in value]
    return value


def control_chars_refuse(value: Any) -> None:
    from django.utils.translation import gettext as _

    if control_chars_find(value):
        raise HostileInput(_("The input contains control characters (such as NUL), which are not accepted."),
                           "control_characters")


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Prefix a cell a spreadsheet would evaluate with ``'`` (shown as text, never run).

    Plain negative numbers stay numbers: "-3" and "-0.25" are figures, not formulas.
    """
    if value and value.startswith(FORMULA_TRIGGERS):
        if value[0] in "-+" and _is_number(value):
            return value
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
