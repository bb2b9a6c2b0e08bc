from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError, InvalidInput, NotAllowed
from apps.departments.models import Department
from apps.roles.access import can_reassign, is_operator

from . import access, attachments, extensions, selectors, services
from .models import Status


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


def conversation_context(request, conv) -> dict:
    """What a page showing one conversation needs (the workspace's one screen builds on it)."""
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
        depts = list(Department.objects.filter(is_active=True).exclude(pk=conv.department_id))
        available = extensions.department_availability([d.pk for d in depts])  # who could take it now
        for d in depts:
            d.available_now = available.get(d.pk)
        ctx["transfer_departments"] = depts
    if ctx["can_reassign"]:
        # The department's agents with presence and load, available first (routing decides the order).
        ctx["agents"] = [a for a in extensions.reassign_choices(department_id=conv.department_id) if a["user"].pk != conv.assignee_id] \
            if conv.department_id else []
    return ctx


def run_and_redirect(request, pk, fn, ok_message, *, keep_query: bool = False):
    """Run a service write for the conversation screen: htmx gets 204 (the live signal refreshes the
    page) or the error as 422 text; a plain form gets a flash message and the conversation again
    (with the list's filters when ``keep_query``: the one screen posts them in the action's query)."""
    try:
        fn()
    except NotAllowed as exc:  # visible but not theirs to act on: 403, as the API answers
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        if request.headers.get("HX-Request"):  # the reply box posts in place: the error goes back to it
            return HttpResponse(exc.message, status=422, content_type="text/plain; charset=utf-8")
        messages.error(request, exc.message)
    else:
        if request.headers.get("HX-Request"):
            return HttpResponse(status=204)  # the live signal refreshes the message list
        if ok_message:
            messages.success(request, ok_message)
    if keep_query and request.GET:
        return redirect(reverse("conversation-detail", args=[pk]) + f"?{request.GET.urlencode()}")
    return redirect("conversation-detail", pk=pk)


@login_required
@require_POST
def conversation_pickup(request, pk: int):
    access.conversation_get_or_404(request.user, pk, "view")
    return run_and_redirect(request, pk, lambda: services.conversation_pickup(conversation=pk, user=request.user),
                _("You picked up this conversation."))


def reply_and_redirect(request, pk: int, *, after_send=None):
    """The reply flow: visibility, the reply (or private note) with its files, the error shown, back
    to the chat. The copilot's reply form uses it too (``after_send(message)`` records the
    suggestion's outcome)."""
    conv = access.conversation_get_or_404(request.user, pk, "view")
    note = request.POST.get("is_internal") in ("1", "on", "true")
    # A private note: anyone who sees the chat may leave one; it never reaches the customer.
    if not note and not access.conversation_can(request.user, conv, "reply"):
        raise PermissionDenied  # visible but not theirs: a denied function
    write = services.message_add_note if note else services.message_send_human

    def send():
        files = _checked_files(request, conv, note)
        body = request.POST.get("body", "")
        with transaction.atomic():  # the message and its files together, or nothing
            msg = write(conversation=pk, user=request.user,
                        body=body if body.strip() or not files else attachments.attachment_body(files))
            for f in files:
                attachments.attachment_store(message=msg, file=f)
        for person in msg.meta.get("mentions_unseen", []) if note and not request.headers.get("HX-Request") else []:
            # (With htmx the note itself tells its writer, under the text.)
            messages.warning(request, _("%(name)s cannot see this conversation; not notified.") % {"name": person["name"]})
        if after_send is not None:
            after_send(msg)

    return run_and_redirect(request, pk, send, "")


def _checked_files(request, conv, note: bool) -> list:
    uploads = request.FILES.getlist("file")
    if not uploads:
        return []
    if len(uploads) > attachments.MAX_FILES:
        raise InvalidInput(_("At most %(n)d files per message.") % {"n": attachments.MAX_FILES})
    files = [attachments.attachment_check(name=f.name, data=f.read()) for f in uploads]
    if not note:  # what the customer's channel accepts (type, size), refused before anything is stored
        attachments.attachment_channel_check(conv.channel.kind, files)
    return files


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
    raw = request.POST.get("department", "")
    # No department chosen (the form preselects none): a clear error from the service, nothing moves.
    dept = Department.objects.filter(pk=raw, is_active=True).first() if raw.isdigit() else None
    return run_and_redirect(request, pk, lambda: services.conversation_transfer(
        conversation=conv, department=dept, actor=request.user, reason=request.POST.get("reason", "")),
        _("Conversation transferred to %(dept)s.") % {"dept": str(dept)} if dept else "")
