from .models import AgentPresence, Presence


def presence(request):
    """The signed-in human's presence, for the status switch in the top bar (one indexed read)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    status = AgentPresence.objects.filter(pk=user.pk).values_list("status", flat=True).first() or Presence.OFFLINE
    return {"my_presence": status, "presence_choices": Presence.choices}
