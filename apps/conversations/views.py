from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.departments.models import Department
from apps.roles.access import can_reassign, is_operator

from . import access, extensions, selectors, services
from .models import Status


@login_required
def inbox(request):
    return render(request, "conversations/inbox.html", selectors.inbox_for(request.user))


@login_required
def conversation_list(request):
    """All departments: Operators only (a denied function is 403)."""
    if not is_operator(request.user):
        raise PermissionDenied
    qs = selectors.conversation_list(request.user, status=request.GET.get("status", ""),
                                     department=request.GET.get("department", ""), q=request.GET.get("q", "").strip())
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "conversations/list.html", {
        "page": page, "statuses": Status.choices, "departments": Department.objects.all(),
        "filters": request.GET,
    })


@login_required
def conversation_detail(request, pk: int):
    conv = access.conversation_get_or_404(request.user, pk, "view")
    user = request.user
    ctx = {
        "conversation": conv,
        "messages_list": selectors.conversation_messages(conv),
        "history": selectors.customer_history(user, conv),
        "handoff_card": selectors.handoff_card(conv),
        "can_reply": access.conversation_can(user, conv, "reply"),
        "can_pickup": access.conversation_can(user, conv, "pickup"),
        "can_archive": access.conversation_can(user, conv, "archive"),
        "can_transfer": access.conversation_can(user, conv, "transfer") or (can_reassign(user) and conv.is_open),
        "can_reassign": can_reassign(user) and conv.is_open,
    }
    if ctx["can_transfer"]:
        ctx["transfer_departments"] = Department.objects.filter(is_active=True).exclude(pk=conv.department_id)
    if ctx["can_reassign"]:
        # The department's agents with presence and load, available first (routing decides the order).
        ctx["agents"] = [a for a in extensions.reassign_choices(department_id=conv.department_id) if a["user"].pk != conv.assignee_id] \
            if conv.department_id else []
    return render(request, "conversations/detail.html", ctx)


def run_and_redirect(request, pk, fn, ok_message):
    try:
        fn()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if ok_message:
            messages.success(request, ok_message)
    return redirect("conversation-detail", pk=pk)


@login_required
@require_POST
def conversation_pickup(request, pk: int):
    access.conversation_get_or_404(request.user, pk, "view")
    return run_and_redirect(request, pk, lambda: services.conversation_pickup(conversation=pk, user=request.user),
                _("You picked up this conversation."))


def reply_and_redirect(request, pk: int, *, after_send=None):
    """The reply flow: visibility, the reply service, the error shown, back to the chat. The
    copilot's reply form uses it too (``after_send(message)`` records the suggestion's outcome)."""
    conv = access.conversation_get_or_404(request.user, pk, "view")
    if not access.conversation_can(request.user, conv, "reply"):
        raise PermissionDenied  # visible but not theirs: a denied function

    def send():
        msg = services.message_send_human(conversation=pk, user=request.user, body=request.POST.get("body", ""))
        if after_send is not None:
            after_send(msg)

    return run_and_redirect(request, pk, send, "")


@login_required
@require_POST
def conversation_reply(request, pk: int):
    return reply_and_redirect(request, pk)


@login_required
@require_POST
def conversation_archive(request, pk: int):
    conv = access.conversation_get_or_404(request.user, pk, "view")
    return run_and_redirect(request, pk, lambda: services.conversation_archive(conversation=conv, actor=request.user,
                                                                   resolution=request.POST.get("resolution", "resolved")),
                _("Conversation archived."))


@login_required
@require_POST
def conversation_transfer(request, pk: int):
    conv = access.conversation_get_or_404(request.user, pk, "view")
    dept = get_object_or_404(Department, pk=request.POST.get("department") or 0, is_active=True)
    return run_and_redirect(request, pk, lambda: services.conversation_transfer(conversation=conv, department=dept, actor=request.user,
                                                                    reason=request.POST.get("reason", "")),
                _("Conversation transferred to %(dept)s.") % {"dept": dept.name})
