from django.core.management.base import BaseCommand

from apps.conversations.models import Conversation


class Command(BaseCommand):
    help = "Recompute every report rollup from the conversation event log and messages."

    def handle(self, *args, **options):
        from tqdm import tqdm

        from apps.reports.rollups import reports_rebuild

        total = Conversation.objects.count()
        with tqdm(total=total, unit="conv", disable=options["verbosity"] < 1, file=self.stderr) as bar:
            result = reports_rebuild(progress=bar.update)
        self.stdout.write(self.style.SUCCESS(
            f"Rebuilt {result['conversations']} conversations into {result['buckets']} buckets and "
            f"{result['activity_rows']} activity rows."))
