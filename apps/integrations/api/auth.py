"""Bearer tokens (per user or per integration, revocable, scoped) and the scope check."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from apps.accounts.lockout import lockout_message, token_attempt_allowed, token_attempt_failed

from ..models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer ac_…`` (``Token ac_…`` accepted too). ``request.auth`` is the ApiToken.

    A wrong token counts as a failed login against the client address (django-axes): after
    LOGIN_FAILURE_LIMIT of them the address gets 429 for LOGIN_LOCKOUT_MINUTES, as the login page."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header.")) from None
        django_request = getattr(request, "_request", request)
        if not token_attempt_allowed(django_request):  # too many wrong tokens from this address
            raise exceptions.Throttled(detail=lockout_message(django_request))
        token = ApiToken.lookup(raw)
        if token is None or not token.is_active or not token.user.is_active:
            token_attempt_failed(django_request)
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # throttled write
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenScope(permissions.BasePermission):
    """A read token may only read; session users and write tokens may write."""

    message = _("This token is read-only.")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is None or request.method in permissions.SAFE_METHODS:
            return True
        return token.scope == ApiToken.Scope.WRITE


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "apps.integrations.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "API token (Authorization: Bearer ac_…)"}
