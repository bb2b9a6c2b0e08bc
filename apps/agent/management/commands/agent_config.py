"""manage.py agent_config export FILE | import FILE  (JSON, or YAML by the .yaml/.yml extension)."""
from django.core.management.base import BaseCommand, CommandError

from apps.agent.config import ConfigError, config_export, config_import, config_load_file, config_write_file


class Command(BaseCommand):
    help = "Export or import the AI Agent configuration (departments, topics, rules, thresholds, messages)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "import"])
        parser.add_argument("file")

    def handle(self, *args, action, file, **options):
        if action == "export":
            config_write_file(config_export(), file)
            self.stdout.write(self.style.SUCCESS(f"exported the AI Agent configuration to {file}"))
            return
        try:
            counts = config_import(config_load_file(file))
        except ConfigError as exc:
            for error in exc.errors:
                self.stderr.write(f"  {error}")
            raise CommandError(f"{file}: {len(exc.errors)} error(s); nothing was changed") from exc
        self.stdout.write(self.style.SUCCESS(
            f"imported {file}: {counts['departments']} departments, {counts['topics']} topics "
            f"({counts['examples']} examples), {counts['rules']} transfer rules; documents linked "
            f"{counts['documents_linked']}, waiting for ingestion {counts['documents_pending']}"))
