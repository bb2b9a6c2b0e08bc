"""DRF parsers that refuse hostile bodies with a 400 (``ParseError``) instead of a 500.

* JSON: size and nesting depth bounded (``apps.core.hostile.json_loads_bounded``); NUL and other
  control characters refused anywhere in the document, since they would reach the database.
* Forms: the same control-character rule for every field value.
"""
from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .hostile import HostileInput, control_chars_refuse, json_loads_bounded, json_max_bytes


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = json_max_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        try:
            data = json_loads_bounded(raw, max_bytes=limit)
            control_chars_refuse(data)
        except HostileInput as exc:
            raise ParseError(exc.message, code=exc.code) from None
        return data


def _checked(data):
    try:
        control_chars_refuse({k: data.getlist(k) for k in data})
    except HostileInput as exc:
        raise ParseError(exc.message, code=exc.code) from None
    return data


class CheckedFormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return _checked(super().parse(stream, media_type, parser_context))


class CheckedMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _checked(result.data)
        return result
