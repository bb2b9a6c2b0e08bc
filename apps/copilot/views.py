"""Copilot endpoints: htmx partials mounted in the conversation page.

Each one fetches the conversation through ``access.conversation_get_or_404`` first (a chat the
user may not see is 404 here as everywhere), then checks the department switch. Drafts load
after the page (hx-trigger="load"), so the human never waits for them.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.conversations import access
from apps.conversations.views import reply_and_redirect

from . import services


def _conversation(request, pk: int, action: str = "view"):
    conv = access.conversation_get_or_404(request.user, pk, action)
    if not services.copilot_available(request.user, conv):
        raise Http404  # switched off for this department: nothing to show, nothing to reveal
    return conv


@never_cache
@login_required
@require_GET
def panel(request, pk: int):
    conv = access.conversation_get_or_404(request.user, pk, "view")
    if not services.copilot_available(request.user, conv):
        return HttpResponse(status=204)
    services.suggestions_reconcile(conv)
    return render(request, "copilot/_panel.html", {
        "conversation": conv, "provider": services.provider_name(),
        "can_reply": access.conversation_can(request.user, conv, "reply"),
        "customer_language": services.customer_language(conv)})


@never_cache
@login_required
@require_GET
def suggest(request, pk: int):
    conv = _conversation(request, pk)
    if not access.conversation_can(request.user, conv, "reply"):
        return render(request, "copilot/_suggestion.html", {"conversation": conv, "cannot_reply": True})
    result = services.suggest_reply(user=request.user, conversation=conv)
    return render(request, "copilot/_suggestion.html", {"conversation": conv, "result": result})


@never_cache
@login_required
@require_GET
def search(request, pk: int):
    conv = _conversation(request, pk)
    query = request.GET.get("q", "")
    try:
        hits = services.search(user=request.user, conversation=conv, query=query)
        error = ""
    except services.CopilotError as exc:
        hits, error = [], str(exc)
    return render(request, "copilot/_search.html", {"hits": hits, "error": error, "query": query},
                  status=400 if error else 200)


@never_cache
@login_required
@require_POST
def summary(request, pk: int):
    conv = _conversation(request, pk)
    scope = request.POST.get("scope", "conversation")
    if scope == "history":
        result = services.summarise_history(user=request.user, conversation=conv)
    elif scope == "conversation":
        result = services.summarise_conversation(user=request.user, conversation=conv)
    else:
        return HttpResponse(status=400)
    return render(request, "copilot/_summary.html", {"result": result, "scope": scope})


@never_cache
@login_required
@require_POST
def rewrite(request, pk: int):
    conv = _conversation(request, pk)
    try:
        result = services.rewrite(user=request.user, conversation=conv, text=request.POST.get("body", ""),
                                  style=request.POST.get("style", ""))
        error = ""
    except services.CopilotError as exc:
        result, error = None, str(exc)
    return render(request, "copilot/_rewrite.html", {"result": result, "error": error, "conversation": conv},
                  status=400 if error else 200)


@login_required
@require_POST
def send(request, pk: int):
    """The reply form posts here while the copilot panel is mounted: the same reply service as the
    normal reply view, then the outcome of the last suggestion shown is recorded."""
    chosen = request.POST.get("copilot_suggestion", "")
    return reply_and_redirect(request, pk, after_send=lambda msg: services.suggestion_outcome_record(
        message=msg, chosen=int(chosen) if chosen.isdigit() else None))
