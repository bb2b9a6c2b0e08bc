"""What every API view shares: auth, scope, throttling, pagination, error bodies, idempotency."""
from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import AlreadyTaken, DomainError, IllegalTransition, InvalidInput, NotAllowed, WindowClosed

from ..models import IdempotencyRecord
from rest_framework.authentication import SessionAuthentication

from .auth import BearerTokenAuthentication, TokenScope

DOMAIN_STATUS = {NotAllowed: 403, IllegalTransition: 409, AlreadyTaken: 409, InvalidInput: 400, WindowClosed: 409}


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class ApiThrottle(UserRateThrottle):
    """Per user (a token acts as its user); the rate comes from the environment."""

    scope = "api"
    rate = os.environ.get("API_THROTTLE_RATE", "1200/min")


def _code_for(exc) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    if isinstance(exc, exceptions.NotAuthenticated):
        return "not_authenticated"
    if isinstance(exc, exceptions.AuthenticationFailed):
        return "authentication_failed"
    if isinstance(exc, exceptions.APIException):
        code = exc.default_code
        return code if isinstance(code, str) else "error"
    return "error"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc, context):
    """Every error as {"error": {"code", "message", "fields"}}; domain errors mapped to HTTP."""
    if isinstance(exc, IdempotentReplay):
        return exc.response
    if isinstance(exc, DomainError):
        status_code = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
        return Response(error_body(exc.code, exc.message), status=status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    fields: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
            message = _("The request has invalid fields.")
        else:
            message = " ".join(str(x) for x in (detail if isinstance(detail, list) else [detail]))
    else:
        message = str(getattr(exc, "detail", exc))
    response.data = error_body(_code_for(exc), message, fields)
    return response


class IdempotentReplay(Exception):
    def __init__(self, response: Response):
        self.response = response


# No request runs this long: an unanswered record older than this was left by a crashed worker.
IDEMPOTENCY_ABANDONED_AFTER = timedelta(seconds=60)


def _take_over_abandoned(record: IdempotencyRecord) -> bool:
    """Conditional UPDATE: exactly one retry re-runs a request whose first attempt never answered."""
    now = timezone.now()
    return bool(IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True,
                                                 created_at__lt=now - IDEMPOTENCY_ABANDONED_AFTER)
                .update(created_at=now))


class ApiMixin:
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]  # session: CSRF enforced
    lookup_value_regex = r"[0-9]+"
    permission_classes = [TokenScope]
    throttle_classes = [ApiThrottle]
    pagination_class = Pagination

    def get_exception_handler(self):
        return api_exception_handler

    # --- Idempotency-Key on POST: first answer stored, replays get it verbatim ------------------
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idem = None
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return
        if len(key) > 255:
            raise exceptions.ValidationError({"Idempotency-Key": [_("At most 255 characters.")]})
        digest = hashlib.sha256(b"%s %s\n" % (request.method.encode(), request.get_full_path().encode())
                                + request.body).hexdigest()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(user=request.user, key=key, request_hash=digest)
        except IntegrityError:
            record = IdempotencyRecord.objects.get(user=request.user, key=key)
            if record.request_hash != digest:
                raise IdempotentReplay(Response(error_body(
                    "idempotency_key_reused", _("This Idempotency-Key was used for a different request.")),
                    status=422)) from None
            if record.status_code is None:
                if not _take_over_abandoned(record):
                    raise IdempotentReplay(Response(error_body(
                        "idempotency_in_progress", _("A request with this Idempotency-Key is still running.")),
                        status=409)) from None
            else:
                resp = Response(record.response_body, status=record.status_code)
                resp["Idempotent-Replayed"] = "true"
                raise IdempotentReplay(resp) from None
        self._idem = record

    def finalize_response(self, request, response, *args, **kwargs):
        record = getattr(self, "_idem", None)
        if record is not None:
            if response.status_code >= 500 or response.status_code in (401, 409, 429):
                IdempotencyRecord.objects.filter(pk=record.pk).delete()  # transient: let the client retry
            else:
                data = json.loads(json.dumps(getattr(response, "data", None), default=str))
                IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=response.status_code,
                                                                      response_body=data)
            self._idem = None
        return super().finalize_response(request, response, *args, **kwargs)

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)
