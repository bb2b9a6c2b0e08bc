"""Refuse query strings and form posts carrying control characters (NUL etc.) with a clear 400.

A NUL in ``?q=`` reached PostgreSQL and came back as ``psycopg.DataError`` (a 500) on every list
with a search box; checking at the door covers every view, the admin included, at once.
JSON bodies are checked by the API's parser (``apps.core.parsers``) and the widget socket.
"""
from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

from .hostile import HostileInput, control_chars_refuse

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def bad_request(request, exc: HostileInput):
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": {"code": exc.code, "message": exc.message, "fields": {}}}, status=400)
    return render(request, "400.html", {"message": exc.message}, status=400)


class HostileInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        try:
            control_chars_refuse({k: request.GET.getlist(k) for k in request.GET})
            # Views exempt from CSRF read their own bodies (webhooks: signed raw bytes, stripped there;
            # the API: its parsers check). Reading request.POST here would consume a multipart stream.
            if request.method == "POST" and not getattr(view_func, "csrf_exempt", False) \
                    and request.content_type in FORM_TYPES:
                control_chars_refuse({k: request.POST.getlist(k) for k in request.POST})
        except HostileInput as exc:
            return bad_request(request, exc)
        return None
