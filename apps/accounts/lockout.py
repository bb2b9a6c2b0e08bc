"""Login throttling with django-axes: what is counted, what a locked person sees, how to unlock.

Failed logins are stored by axes in the database (every web process sees the same count). A
password failure counts against the account *and* the client address (``AXES_LOCKOUT_PARAMETERS``
below): ``LOGIN_FAILURE_LIMIT`` wrong passwords lock that account from anywhere, and that address
for every account, for ``LOGIN_LOCKOUT_MINUTES``. A wrong API token counts against the address only
(a token names no account). A success clears the account's count.
"""
from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.forms import AuthenticationForm
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

API_TOKEN_MARK = "asisteclick_api_token"


class LockoutBackend(AxesStandaloneBackend):
    """axes' backend, first in AUTHENTICATION_BACKENDS: a locked account or address is refused
    before any password is checked.

    ``authenticate()`` without a request is not a login from the web: the test client's
    ``login()``, ``createsuperuser``/``changepassword`` and shell scripts. axes' own backend
    refuses those outright; here they pass to the next backend, unthrottled. Every web login
    (our login page, the admin's, DRF's session login) hands Django the request, so it is counted.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_parameters(request, credentials) -> list:
    if credentials and credentials.get(API_TOKEN_MARK):
        return ["ip_address"]
    return ["username", "ip_address"]


def lockout_minutes(request=None) -> int:
    cool_off = get_cool_off(request)
    return max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_message(request=None) -> str:
    minutes = lockout_minutes(request)
    return ngettext(
        "Too many failed logins: this account (or this network address) is locked for %(n)d minute. "
        "An Operator can unlock it sooner.",
        "Too many failed logins: this account (or this network address) is locked for %(n)d minutes. "
        "An Operator can unlock it sooner.", minutes) % {"n": minutes}


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, status 429, with a translated message saying for how long."""
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse({"error": {"code": "locked_out", "message": lockout_message(request), "fields": {}}},
                            status=status)
    # Unbound (validating it would authenticate, and count, once more); the username stays filled.
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    return render(request, "accounts/login.html", {"form": form, "locked_out": lockout_message(request),
                                                   "next": request.POST.get("next", "")}, status=status)


def token_attempt_allowed(request) -> bool:
    """False while the client address is locked (checked before an API token is looked up)."""
    return AxesProxyHandler.is_allowed(request, {API_TOKEN_MARK: True})


def token_attempt_failed(request) -> None:
    """Count a wrong API token against the client address, as a wrong password would be."""
    auth_signals.user_login_failed.send(sender=__name__, credentials={API_TOKEN_MARK: True}, request=request)


def login_unlock(*, username: str) -> int:
    """Clear the failed logins of one account (the admin's "Unlock login"). Returns rows removed."""
    from axes.utils import reset

    return reset(username=username)
