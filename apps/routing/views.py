from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.utils.http import url_has_allowed_host_and_scheme
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts.views import remember_go_online
from apps.conversations import access
from apps.conversations.views import run_and_redirect
from apps.core.errors import DomainError
from apps.roles.access import can_reassign

from . import services
from .models import Notification, Presence


@login_required
def notification_list(request):
    """The user's own in-app notifications: escalations (Operators) and @mentions in notes (anyone).
    Only their own rows, each linking to a conversation that the link's page checks again."""
    qs = Notification.objects.filter(user=request.user).select_related("conversation")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    if request.GET.get("badge"):  # the top bar's link, re-fetched on a "notification" signal
        return render(request, "routing/_nav_notifications.html")
    template = "routing/_notifications.html" if request.GET.get("partial") else "routing/notifications.html"
    return render(request, template, {"page": page, "unread": qs.filter(read_at__isnull=True).count()})


@login_required
@require_POST
def notification_read(request):
    raw = request.POST.getlist("id")
    try:
        ids = [int(x) for x in raw] if raw else None
    except ValueError:
        messages.error(request, _("Invalid notification."))
        return redirect("routing-notifications")
    services.notification_mark_read(user=request.user, ids=ids)
    return redirect("routing-notifications")


@login_required
def presence(request):
    """A human sets their own presence (online / away / offline), and whether signing in sets them
    online (their preference; the sign-in page offers it ticked that way in this browser)."""
    p = services.presence_for(request.user)
    if request.method == "POST" and request.POST.get("preference") == "login":
        wanted = bool(request.POST.get("online_at_login"))
        services.presence_set_login_preference(user=request.user, online_at_login=wanted)
        messages.success(request, _("Signing in will set you online.") if wanted
                         else _("Signing in will leave you offline until you go online."))
        response = redirect("routing-presence")
        remember_go_online(response, wanted)
        return response
    if request.method == "POST":
        try:
            p = services.presence_set(user=request.user, status=request.POST.get("status", ""))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("You are now %(status)s.") % {"status": p.get_status_display().lower()})
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                      require_https=request.is_secure()):
            return redirect(target)
        return redirect("routing-presence")
    return render(request, "routing/presence.html", {"presence": p, "choices": Presence.choices})


@login_required
@require_POST
def conversation_reassign(request, pk: int):
    if not can_reassign(request.user):
        raise PermissionDenied
    conv = access.conversation_get_or_404(request.user, pk, "view")
    raw = request.POST.get("assignee", "")
    assignee = get_user_model().objects.filter(pk=raw, is_active=True).first() if raw.isdigit() else None
    if assignee is None:  # the form preselects nobody: say so, move nothing
        messages.error(request, _("Choose who takes the conversation."))
        return redirect("conversation-detail", pk=pk)

    def reassign():  # through routing, so the reply timer follows the new assignment at once
        services.routing_reassign(conversation_id=conv.pk, assignee=assignee, actor=request.user,
                                  reason=request.POST.get("reason", ""))

    return run_and_redirect(request, pk, reassign, _("Conversation reassigned to %(name)s.") % {"name": assignee.public_name})
