"""Two guards at the door, for every view (the admin included).

``HostileInputMiddleware``: refuse query strings and form posts carrying control characters (NUL
etc.) with a clear 400. A NUL in ``?q=`` reached PostgreSQL and came back as ``psycopg.DataError``
(a 500) on every list with a search box. JSON bodies are checked by the API's parser
(``apps.core.parsers``) and the widget socket.

``DatabaseUnavailableMiddleware``: answer 503 (with Retry-After) when the database is unavailable or
saturated, never 500. Providers (Meta, mail gateways, API clients) retry a 503; a 500 reads as our
bug. A request that finds every pooled connection busy gets ``PoolTimeout`` (an ``OperationalError``)
after ``DB_POOL_TIMEOUT`` seconds and ends here.
"""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .hostile import HostileInput, control_chars_refuse

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
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


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        message = _("The service is busy. Please try again in a few seconds.")
        accepts_html = "text/html" in request.headers.get("Accept", "")
        response = (HttpResponse(message, status=503, content_type="text/plain; charset=utf-8") if accepts_html
                    else JsonResponse({"detail": message}, status=503))
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
