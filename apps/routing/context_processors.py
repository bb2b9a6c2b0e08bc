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
    status = SimpleLazyObject(lambda: _status(pk))
    return {"my_presence": status, "presence_choices": Presence.choices}


def _status(user_pk: int) -> str:
    from apps.core import sqlcache

    # Compiled once per process, the user's id a parameter (``apps.core.sqlcache``).
    found = sqlcache.rows(("presence_status",), _status_query, user_pk)
    return found[0][0] if found else Presence.OFFLINE


def _status_query(user_pk: int):
    return AgentPresence.objects.filter(pk=user_pk).values_list("status")[:1]
