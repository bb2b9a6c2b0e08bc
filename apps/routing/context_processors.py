from django.utils.functional import SimpleLazyObject

from .models import AgentPresence, Presence


def presence(request):
    """The signed-in human's presence, for the status switch in the top bar (one indexed read, made
    only when a template shows it: a partial without the top bar, such as the inbox list re-fetched
    on live signals, costs no query)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    pk = user.pk
    status = SimpleLazyObject(
        lambda: AgentPresence.objects.filter(pk=pk).values_list("status", flat=True).first() or Presence.OFFLINE)
    return {"my_presence": status, "presence_choices": Presence.choices}
