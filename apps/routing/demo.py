"""FibraSur routing set-up (idempotent): modes, timers, business hours, night shifts, holidays, rules.

Also starts the in-process sweep (``apps.routing.inprocess``) when tasks run in-process (the
embedded default), because ``manage.py demo`` serves from this same process and has no Celery beat.
"""
from __future__ import annotations

from datetime import date, time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.departments.models import Department, Membership
from apps.departments.services import membership_set

from .models import AgentPresence, AgentShift, BusinessHours, DepartmentRouting, Holiday, Presence, RoutingRule

CONFIG = {
    # slug: mode, pickup minutes, reply minutes, backup slug, business hours (Mon-Fri 09-18, Sat 09-13)?
    "technical-support": ("rules", 5, 10, "customer-service", False),
    "customer-service": ("load", 5, 15, None, False),
    "sales": ("round_robin", 10, 15, "customer-service", True),
    "collections": ("manual", 15, None, "customer-service", True),
    "cancellations": ("load", 10, 15, "customer-service", True),
}
PEOPLE = {
    # username: capacity, languages, teams, on the day shift (online whenever the demo starts)
    "maria": (4, "es,en", "", True),
    "diego": (4, "es", "whatsapp", True),
    "sofia": (5, "es,en", "", True),
    "javier": (3, "es", "", True),
    "night.tomas": (4, "es", "", False),
    "night.valentina": (4, "es,en", "", False),
    "night.lucas": (4, "es", "whatsapp", False),
}


def log(out, text: str) -> None:
    if out is not None:
        out.write(text)


@transaction.atomic
def _seed(out) -> None:
    depts = {d.slug: d for d in Department.objects.all()}
    for slug, (mode, pickup, reply, backup, office) in CONFIG.items():
        dept = depts.get(slug)
        if dept is None:
            continue
        cfg, created = DepartmentRouting.objects.get_or_create(
            department=dept, defaults={"mode": mode, "pickup_minutes": pickup, "reply_minutes": reply,
                                       "use_schedule": office, "pickup_to_backup": bool(backup)})
        if backup and dept.backup_id is None and backup in depts:
            Department.objects.filter(pk=dept.pk).update(backup=depts[backup])
        if created and office:
            BusinessHours.objects.bulk_create(
                [BusinessHours(routing=cfg, weekday=d, start=time(9), end=time(18)) for d in range(5)]
                + [BusinessHours(routing=cfg, weekday=5, start=time(9), end=time(13))])
        if created and slug == "technical-support":
            RoutingRule.objects.bulk_create([
                RoutingRule(routing=cfg, position=1, attribute="contact.is_vip", value="true", target="senior"),
                RoutingRule(routing=cfg, position=2, attribute="conversation.language", value="en", target="language"),
                RoutingRule(routing=cfg, position=3, attribute="channel.kind", value="whatsapp", target="team",
                            target_value="whatsapp"),
            ])
    for day, name in ((date(2026, 12, 25), "Navidad"), (date(2027, 1, 1), "Año Nuevo")):
        Holiday.objects.get_or_create(department=None, date=day, defaults={"name": name})
    User = get_user_model()
    for username, (capacity, langs, teams, is_online) in PEOPLE.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        presence, created = AgentPresence.objects.get_or_create(
            user=user, defaults={"capacity": capacity, "languages": langs, "teams": teams,
                                 "status": Presence.ONLINE if is_online else Presence.OFFLINE})
        if created and is_online:  # logged in from now on (reports' logged-in hours)
            from .services import presence_session_open

            presence_session_open(user.pk, timezone.now())
        if created and username.startswith("night."):
            AgentShift.objects.bulk_create([AgentShift(presence=presence, weekday=d, start=time(22), end=time(6))
                                            for d in range(7)])
    _seed_history(User)
    maria = Membership.objects.filter(user__username="maria", department__slug="technical-support").first()
    if maria and not maria.is_senior:
        membership_set(user=maria.user, department=maria.department, can_handle=maria.can_handle,
                       can_archive=maria.can_archive, can_transfer=maria.can_transfer, is_senior=True)
    log(out, "  routing: modes, timers, business hours, night shifts 22:00-06:00, holidays, rules\n")


HISTORY_DAYS = 35


def _seed_history(User) -> None:
    """Logged-in time for the seeded history (reports' utilization and Collaborator hours come from
    presence sessions): the day staff and the shift supervisor Monday to Friday 09:00-18:00 (with a
    Saturday morning), the night shift 22:00-06:00. Once: skipped when older sessions exist."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from .models import PresenceSession

    today = timezone.localdate()
    start_of_today = datetime.combine(today, time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))
    if PresenceSession.objects.filter(started_at__lt=start_of_today).exists():
        return
    zone, now = ZoneInfo(settings.TIME_ZONE), timezone.now()
    rows = []
    for user in User.objects.filter(username__in=[*PEOPLE, "laura"]):
        night = user.username.startswith("night.")
        for back in range(HISTORY_DAYS, 0, -1):
            day = today - timedelta(days=back)
            if night:
                begin, end = datetime.combine(day, time(22), zone), datetime.combine(day + timedelta(days=1), time(6), zone)
            elif day.weekday() < 5:
                begin, end = datetime.combine(day, time(9), zone), datetime.combine(day, time(18), zone)
            elif day.weekday() == 5:
                begin, end = datetime.combine(day, time(9), zone), datetime.combine(day, time(13), zone)
            else:
                continue
            if end > now:  # last night's shift may still be running
                end = now
            rows.append(PresenceSession(user=user, started_at=begin, ended_at=end, end_reason="demo"))
    PresenceSession.objects.bulk_create(rows)


def day_shift_online() -> int:
    """The demo starts with the day shift online (also after a restart in which someone exploring it
    had set them away or offline), so a visitor finds people taking chats. Through ``presence_set``:
    sessions open and waiting chats are routed to them as for anyone coming online."""
    from .services import presence_set

    names = [name for name, (_c, _l, _t, day) in PEOPLE.items() if day]
    changed = 0
    for presence in AgentPresence.objects.filter(user__username__in=names).exclude(status=Presence.ONLINE):
        presence_set(user=presence.user_id, status=Presence.ONLINE, reason="demo")
        changed += 1
    return changed


def seed(out=None) -> None:
    _seed(out)
    if day_shift_online():
        log(out, "  routing: day shift back online\n")
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        from .inprocess import start

        if start():
            log(out, "  routing: escalation sweep running in-process every "
                     f"{getattr(settings, 'ROUTING_SWEEP_SECONDS', 15)}s (no Celery beat in the embedded demo)\n")
