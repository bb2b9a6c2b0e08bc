"""Answer 503 (with Retry-After) when the database is unavailable or saturated, never 500.

Providers (Meta, mail gateways, API clients) retry a 503; a 500 reads as our bug. A request
that finds every pooled connection busy gets ``PoolTimeout`` (an ``OperationalError``) after
``DB_POOL_TIMEOUT`` seconds and ends here."""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


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
