from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Fold new events and messages into the report rollups (what the periodic task runs)."

    def handle(self, *args, **options):
        from apps.reports.rollups import reports_reconcile, reports_refresh

        while True:
            result = reports_refresh()
            self.stdout.write(str(result))
            if result["events"] + result["messages"] == 0:
                break
        self.stdout.write(f"reconciled {reports_reconcile()} late conversations")
