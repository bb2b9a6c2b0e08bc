"""Per-user language and time zone, falling back to the browser and the operation's zone."""
from __future__ import annotations

import zoneinfo

from django.utils import timezone, translation


class UserLanguageMiddleware:
    """Runs before LocaleMiddleware: a staff user's saved language wins over Accept-Language.

    The session user is not loaded yet here, so the preference is kept in the session at login
    (see apps.accounts.signals) and read from there.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        lang = request.session.get("user_language") if hasattr(request, "session") else None
        if lang:
            request.COOKIES = {**request.COOKIES, "django_language": lang}
        return self.get_response(request)


class UserTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = getattr(getattr(request, "user", None), "time_zone", "") or ""
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
            translation.get_language()
