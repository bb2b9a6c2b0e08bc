"""Live workspace pages and the htmx partials they re-fetch after a websocket signal.

Every partial goes through the visibility module again, so a signal can never show more than a
normal page load would (DESIGN.md invariants 1 and 4).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.conversations import access
from apps.conversations import selectors as conv_selectors
from apps.roles.access import can_view_monitor

from . import selectors, widget


@never_cache
@login_required
@require_GET
def inbox_lists(request):
    return render(request, "workspace/_inbox_lists.html", selectors.inbox_lists(request.user))


@never_cache
@login_required
@require_GET
def conversation_messages(request, pk: int):
    """The message list of one conversation; fetching it marks it read for this user."""
    conv = access.conversation_get_or_404(request.user, pk, "view")
    rows = list(conv_selectors.conversation_messages(conv))
    selectors.conversation_mark_read(request.user, conv, rows[-1].pk if rows else None)
    return render(request, "workspace/_messages.html", {"conversation": conv, "messages_list": rows})


def _monitor_guard(request):
    if not can_view_monitor(request.user):
        raise PermissionDenied


@never_cache
@login_required
@require_GET
def monitor(request):
    _monitor_guard(request)
    return render(request, "workspace/monitor.html", {**selectors.monitor_snapshot(request.user),
                                                      "waiting": selectors.monitor_waiting(request.user)})


@never_cache
@login_required
@require_GET
def monitor_panel(request):
    _monitor_guard(request)
    return render(request, "workspace/_monitor_panel.html", {**selectors.monitor_snapshot(request.user),
                                                             "waiting": selectors.monitor_waiting(request.user)})


@require_GET
def widget_demo(request):
    """A stand-in customer site embedding the widget with one script tag (demo and browser tests)."""
    key = request.GET.get("key", "")
    channel = widget.channel_by_key(key)
    return render(request, "workspace/widget_demo.html", {"key": key, "channel": channel})


@require_GET
def widget_strings(request):
    """The widget's own texts in one language, for any embedding site (public, cacheable JSON).

    ``?lang=`` is the page's (or the conversation's) language; unsupported codes get the default.
    """
    language = widget.language_supported(request.GET.get("lang")) or settings.LANGUAGE_CODE
    with translation.override(language):
        response = JsonResponse({"language": language, "strings": widget.ui_strings()},
                                json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"  # nothing private: the same texts for everyone
    response["Cache-Control"] = "public, max-age=3600"
    return response
