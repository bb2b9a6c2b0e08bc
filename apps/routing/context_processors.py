from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.functional import SimpleLazyObject

from .models import AgentPresence, Notification, Presence


def presence(request):
    """The signed-in human's presence, for the status switch in the top bar, and their unread
    notifications, for its badge: one indexed read for both, made only when a template shows them
    (a partial without the top bar, such as the inbox list re-fetched on live signals, costs no
    query)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    pk = user.pk
    memo: dict = {}

    def top_bar() -> tuple:
        if "row" not in memo:
            memo["row"] = _top_bar(pk)
        return memo["row"]

    return {"my_presence": SimpleLazyObject(lambda: top_bar()[0]), "presence_choices": Presence.choices,
            "my_unread_notifications": SimpleLazyObject(lambda: top_bar()[1])}


def _top_bar(user_pk: int) -> tuple:
    from apps.core import sqlcache

    # Compiled once per process, the user's id a parameter (``apps.core.sqlcache``).
    found = sqlcache.rows(("top_bar",), _top_bar_query, user_pk)
    if not found:
        return Presence.OFFLINE, 0
    status, unread = found[0]
    return status or Presence.OFFLINE, unread or 0


def _top_bar_query(user_pk: int):
    status = AgentPresence.objects.filter(pk=OuterRef("pk")).values("status")[:1]
    unread = (Notification.objects.filter(user_id=OuterRef("pk"), read_at__isnull=True).order_by()
              .values("user_id").annotate(n=Count("pk")).values("n"))
    return get_user_model().objects.filter(pk=user_pk).values_list(
        Subquery(status), Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
