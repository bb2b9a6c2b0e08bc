"""Live workspace pages and the htmx partials they re-fetch after a websocket signal.

Every partial goes through the visibility module again, so a signal can never show more than a
normal page load would (DESIGN.md invariants 1 and 4).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.conversations import access, attachments, mentions
from apps.conversations import services as conv_services
from apps.conversations.models import ACTIVE_HUMAN_STATUSES, Attachment
from apps.conversations import selectors as conv_selectors
from apps.conversations.views import conversation_context, run_and_redirect
from apps.core.errors import DomainError
from apps.roles.access import can_view_monitor
from apps.routing import services as routing_services

from . import inbox, selectors, services, snooze, widget, widget_files
from .models import Label, SavedReply
from .timeline import conversation_timeline


def _list_context(request, *, menus: bool = True) -> dict:
    """The list's context; ``menus=False`` for the list partial, which shows neither the filter
    menus nor the tab counts (two queries a live re-fetch does not need)."""
    f = inbox.filters_from(request.GET)
    with access.visibility_memo():  # the list, its counts and its menus ask for the same departments
        page = inbox.conversation_page(request.user, f)
        choices, counts = (inbox.filter_choices(request.user), inbox.tab_counts(request.user)) if menus else ({}, {})
    return {**page, "choices": choices, "tab_counts": counts, "list_query": f.query(),
            "tabs": [(value, label, f.query(tab=value, page="")) for value, label in inbox.TABS.items()],
            "next_query": f.query(page=f.page + 1), "prev_query": f.query(page=f.page - 1),
            "current_pk": _int_or_none(request.GET.get("current"))}


def _int_or_none(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


@never_cache
@login_required
@require_GET
def inbox_page(request):
    """The one screen with no conversation open: the list (filters in the URL) and an empty pane."""
    return render(request, "workspace/inbox.html", _list_context(request))


@never_cache
@login_required
@require_GET
def conversation_page(request, pk: int):
    """The one screen with a conversation open: list, conversation and side panel (deep-linkable)."""
    conv = access.conversation_get_or_404(request.user, pk, "view")
    # Opening the chat reads its notices (a mention, an escalation): the badge rendered below and in
    # the user's other tabs (live signal) no longer counts them.
    routing_services.notification_mark_read(user=request.user, conversation_id=conv.pk)
    ctx = {**_list_context(request), **conversation_context(request, conv), "current_pk": conv.pk,
           "timeline": conversation_timeline(conv, list(conv_selectors.conversation_messages(conv)
                                                        .prefetch_related("attachments"))),
           "labels_on": list(Label.objects.filter(links__conversation=conv).order_by("name")),
           "saved_replies_url": reverse("workspace-saved-replies") + f"?conversation={conv.pk}",
           "mentions_url": reverse("workspace-mention-suggestions", args=[conv.pk])}
    if conv.status in ACTIVE_HUMAN_STATUSES:  # anyone who sees an assigned chat may snooze it
        ctx["snooze_presets"] = snooze.presets()
        ctx["snooze_min"], ctx["snooze_max"] = snooze.input_bounds()
        if conv.snoozed_until and conv.snoozed_until > timezone.now():
            ctx["snoozed_label"] = snooze.snooze_label(conv.snoozed_until)
    on = {lab.pk for lab in ctx["labels_on"]}  # the menu holds (id, name) pairs
    ctx["labels_free"] = [{"pk": pk, "name": name} for pk, name in ctx["choices"]["labels"] if pk not in on]
    return render(request, "workspace/conversation.html", ctx)


@never_cache
@login_required
@require_GET
def inbox_lists(request):
    """The list alone (re-fetched on live signals, with the page's filters in the query string)."""
    return render(request, "workspace/_list.html", _list_context(request, menus=False))


@never_cache
@login_required
@require_GET
def conversation_messages(request, pk: int):
    """The timeline of one conversation (messages and events); fetching it marks it read for this user."""
    conv = access.conversation_get_or_404(request.user, pk, "view")
    rows = list(conv_selectors.conversation_messages(conv).prefetch_related("attachments"))
    selectors.conversation_mark_read(request.user, conv, rows[-1].pk if rows else None)
    return render(request, "workspace/_messages.html", {"conversation": conv, "messages_list": rows,
                                                        "timeline": conversation_timeline(conv, rows)})


def _after_write(request, pk: int):
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)  # the live signal refreshes the page's parts
    return redirect(reverse("conversation-detail", args=[pk]) + (f"?{request.GET.urlencode()}" if request.GET else ""))


@login_required
@require_POST
def conversation_label_add(request, pk: int):
    try:
        services.label_add(user=request.user, conversation_id=pk, label_id=int(request.POST.get("label") or 0))
    except (ValueError, DomainError) as exc:
        message = getattr(exc, "message", "") or _("Choose one of the labels.")
        if request.headers.get("HX-Request"):
            return HttpResponse(message, status=422, content_type="text/plain; charset=utf-8")
        messages.error(request, message)
    return _after_write(request, pk)


@login_required
@require_POST
def conversation_label_remove(request, pk: int, label_id: int):
    services.label_remove(user=request.user, conversation_id=pk, label_id=label_id)
    return _after_write(request, pk)


def _snooze_write(request, pk: int, write, ok_message: str):
    access.conversation_get_or_404(request.user, pk, "view")  # not visible: 404, like the chat
    return run_and_redirect(request, pk, write, ok_message, keep_query=True)


@login_required
@require_POST
def conversation_snooze(request, pk: int):
    """Snooze from the conversation screen: a preset or a custom time (the user's time zone)."""
    until = snooze.until_from(request.POST)
    return _snooze_write(request, pk, lambda: conv_services.conversation_snooze(
        conversation=pk, user=request.user, until=until),
        _("Snoozed until %(when)s.") % {"when": snooze.snooze_label(until)} if until else "")


@login_required
@require_POST
def conversation_unsnooze(request, pk: int):
    return _snooze_write(request, pk, lambda: conv_services.conversation_unsnooze(conversation=pk, user=request.user),
                         _("The conversation is back in the open lists."))


@never_cache
@login_required
@require_GET
def saved_replies(request):
    """Saved replies for the "/" menu, variables filled in for the open conversation (JSON)."""
    conv = None
    if request.GET.get("conversation"):
        conv = access.conversation_get_or_404(request.user, request.GET.get("conversation"), "view")
    q = " ".join((request.GET.get("q") or "").split()).lower()[:80]
    rows = []
    for reply in services.saved_replies_for(request.user, conv):
        text = services.saved_reply_render(reply, user=request.user, conversation=conv)
        if q and q not in reply.shortcut.lower() and q not in reply.title.lower() and q not in text.lower():
            continue
        rows.append({"id": reply.pk, "shortcut": reply.shortcut, "title": reply.title, "text": text,
                     "scope": str(reply.department) if reply.department_id else _("Personal")})
        if len(rows) >= 20:
            break
    return JsonResponse({"replies": rows}, json_dumps_params={"ensure_ascii": False})


@never_cache
@login_required
@require_GET
def mention_suggestions(request, pk: int):
    """Colleagues for the "@" menu of a private note (JSON): only people who may see this chat,
    which the asker must see too (404 otherwise, like every page of it)."""
    conv = access.conversation_get_or_404(request.user, pk, "view")
    q = " ".join((request.GET.get("q") or "").split())[:60]
    people = mentions.mention_candidates(conversation=conv, user=request.user, q=q)
    return JsonResponse({"people": [{"id": u.pk, "username": u.username, "name": u.public_name} for u in people]},
                        json_dumps_params={"ensure_ascii": False})


@never_cache
@login_required
def saved_replies_manage(request):
    """The user's personal saved replies (department ones are managed by Operators in the admin)."""
    if request.method == "POST":
        try:
            if request.POST.get("delete"):
                services.saved_reply_delete(user=request.user, pk=int(request.POST["delete"]))
                messages.success(request, _("Saved reply deleted."))
            else:
                services.saved_reply_create(user=request.user, title=request.POST.get("title", ""),
                                            shortcut=request.POST.get("shortcut", ""),
                                            body=request.POST.get("body", ""))
                messages.success(request, _("Saved reply added."))
        except (ValueError, DomainError) as exc:
            messages.error(request, getattr(exc, "message", "") or _("Invalid request."))
        return redirect("workspace-saved-replies-manage")
    return render(request, "workspace/saved_replies.html", {
        "personal": SavedReply.objects.filter(owner=request.user),
        "shared": services.saved_replies_for(request.user).filter(owner__isnull=True)})


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
    if not key:
        # No key given: the one web chat that has a key (a public value, printed in every embedding
        # site) is the demo; with several, the page asks for one.
        sole = widget.sole_public_key()
        if sole:
            return redirect(f"{request.path}?{urlencode({'key': sole})}")
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


def attachment_response(attachment, *, thumbnail: bool = False):
    """The file itself, never rendered as a page of ours: a sandbox CSP, no sniffing, private cache."""
    path = attachments.attachment_path(attachment, thumbnail=thumbnail)
    if path is None:
        raise Http404(_("No such file"))
    inline = attachment.is_image
    response = FileResponse(path.open("rb"), as_attachment=not inline, filename=attachment.name,
                            content_type="image/jpeg" if thumbnail else attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    # The browser shows an image in a viewer of its own that styles it inline: allowed, nothing else.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response._csp_exempt = True  # this policy, not the pages' one on top of it
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def attachment_download(request, pk: int):
    """A file of a message: only for someone who may see its conversation (404 otherwise, like the chat)."""
    attachment = Attachment.objects.filter(pk=pk).only(
        "conversation_id", "name", "content_type", "path", "thumbnail_path").first()
    if attachment is None:
        raise Http404(_("No such file"))
    access.conversation_get_or_404(request.user, attachment.conversation_id, "view")
    return attachment_response(attachment, thumbnail=request.GET.get("thumb") == "1")


@csrf_exempt  # no cookies: the visitor token in the form authenticates (like the widget's socket)
@require_POST
def widget_upload(request):
    """A photo or a PDF from the customer's web chat (multipart: key, token, client_id, file...)."""
    channel = widget.channel_by_key(request.POST.get("key", ""))
    origin = request.headers.get("Origin")
    if channel is None or not widget.origin_allowed(channel, origin):
        return JsonResponse({"error": "forbidden"}, status=403)
    language = widget.language_supported(request.POST.get("language")) or settings.LANGUAGE_CODE
    with translation.override(language):
        response = _widget_upload(request, channel, language)
    response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


def _widget_upload(request, channel, language):
    token, customer_id = request.POST.get("token") or "", request.POST.get("customer_id") or ""
    if not customer_id and not widget_files.token_valid(channel, token):
        return JsonResponse({"error": _("Say hello first.")}, status=403)
    try:
        visitor = widget.visitor_authenticate(channel, token=token, customer_id=customer_id or None,
                                              signature=request.POST.get("signature"), language=language)
    except widget.WidgetAuthError as exc:
        return JsonResponse({"error": exc.message}, status=403)
    client_id = request.POST.get("client_id", "")
    if not widget.CLIENT_ID_RE.match(client_id):
        return JsonResponse({"error": _("Invalid message id.")}, status=400)
    if not widget.rate_allow(f"msg.{channel.pk}.{visitor.visitor_id}", widget.MESSAGES_PER_MINUTE):
        return JsonResponse({"error": _("You are sending messages too fast. Please wait a moment.")}, status=429)
    uploads = request.FILES.getlist("file")
    if not uploads:
        return JsonResponse({"error": _("Choose a photo or a PDF.")}, status=400)
    try:
        msg = widget_files.widget_upload(visitor=visitor, channel=channel, client_id=client_id, uploads=uploads)
    except DomainError as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=400)
    return JsonResponse({"id": msg.pk, "client_id": client_id, "conversation": msg.conversation_id})


@require_GET
def widget_attachment(request, token: str):
    """A file of the customer's own conversation, by a signed link from their widget's sync."""
    attachment = widget_files.attachment_from_link(token)
    if attachment is None:
        raise Http404(_("No such file"))
    return attachment_response(attachment, thumbnail=request.GET.get("thumb") == "1")


@login_required
@require_POST
def media_retry(request, pk: int):
    """Ask the provider again for a customer's file whose download failed (anyone who sees the chat)."""
    from apps.conversations.models import Message
    from apps.integrations.media import media_fetch

    msg = Message.objects.filter(pk=pk).values("conversation_id").first()
    if msg is None:
        raise Http404
    conv = access.conversation_get_or_404(request.user, msg["conversation_id"], "view")
    media_fetch(pk, manual=True)
    return _after_write(request, conv.pk)
