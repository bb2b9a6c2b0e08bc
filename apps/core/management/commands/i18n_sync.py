from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core import i18n


class Command(BaseCommand):
    help = "Add every marked message missing from the Spanish catalogues to one catalogue (default: locale/es)."

    def add_arguments(self, parser):
        parser.add_argument("--catalogue", default=str(Path(settings.BASE_DIR) / "locale/es/LC_MESSAGES/django.po"))
        parser.add_argument("--language", default="es")
        parser.add_argument("--under", default="", help="Only messages found under this path prefix.")

    def handle(self, *args, **opts):
        path = Path(opts["catalogue"])
        path.parent.mkdir(parents=True, exist_ok=True)
        po = polib.pofile(str(path)) if path.exists() else polib.POFile()
        if not path.exists():
            po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": opts["language"],
                           "Plural-Forms": "nplurals=2; plural=(n != 1);"}
        existing = {(e.msgid, e.msgctxt) for e in po}
        added = 0
        for (msgid, ctx), where in sorted(i18n.missing_translations(opts["language"]).items(), key=lambda kv: kv[1]):
            if not where.startswith(opts["under"]) or (msgid, ctx) in existing:
                continue
            po.append(polib.POEntry(msgid=msgid, msgctxt=ctx, msgstr="", occurrences=[tuple(where.rsplit(":", 1))]))
            added += 1
        po.save(str(path))
        self.stdout.write(f"{added} entries added to {path}; fill their msgstr in Spanish.")
