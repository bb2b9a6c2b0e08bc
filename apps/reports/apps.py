from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_schedule(sender=None, **kwargs) -> None:
    """Register the periodic tasks with the database beat scheduler (idempotent, after every migrate)."""
    try:
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
    except ImportError:  # beat not installed: run `manage.py reports_refresh` from cron instead
        return
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    monday, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="8", day_of_week="1", day_of_month="*",
                                                      month_of_year="*")
    PeriodicTask.objects.get_or_create(name="reports: refresh rollups", defaults={
        "task": "reports.refresh", "interval": every_minute})
    PeriodicTask.objects.get_or_create(name="reports: reconcile late events", defaults={
        "task": "reports.reconcile", "interval": hourly})
    PeriodicTask.objects.get_or_create(name="reports: weekly digest to Operators", defaults={
        "task": "reports.weekly_digest", "crontab": monday})


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(ensure_schedule, sender=self, dispatch_uid="reports_beat_schedule")
