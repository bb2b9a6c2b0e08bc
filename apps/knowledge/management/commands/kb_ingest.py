"""manage.py kb_ingest PATH... : load files and folders into the knowledge base, with progress."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.knowledge.parsers import EXTENSIONS
from apps.knowledge.services import document_upsert_file


def collect(paths: list[str]) -> list[tuple[Path, str]]:
    """(file, source key) pairs. A folder's files are keyed by folder name + relative path, so the
    same folder ingested again (from any working directory) updates the same documents."""
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in EXTENSIONS and not any(
                        part.startswith(".") for part in file.relative_to(path).parts):
                    found.append((file, f"{path.resolve().name}/{file.relative_to(path).as_posix()}"))
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise CommandError(f"{raw}: no such file or folder")
    return found


class Command(BaseCommand):
    help = ("Ingest documents (PDF, DOCX, HTML, Markdown, text, FAQ CSV/XLSX) from files and folders into the "
            "knowledge base. Idempotent: unchanged files (same checksum) are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--department", action="append", default=[], metavar="SLUG",
                            help="Limit the documents to this department (repeatable). Default: all departments.")
        parser.add_argument("--mapping", metavar="FILE",
                            help="YAML/JSON mapping each file (path inside the folder, or name) to its department(s), "
                                 "by slug or name; files not in it get --department (default: all departments).")
        parser.add_argument("--language", choices=["es", "en"], default="",
                            help="Language of the documents (default: detected per chunk).")
        parser.add_argument("--tags", nargs="*", default=None, help="Tags for the documents (space or comma separated).")
        parser.add_argument("--force", action="store_true", help="Re-ingest even when the checksum is unchanged.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs and CI).")

    def handle(self, *args, **opts):
        from tqdm import tqdm

        from apps.knowledge.kb_mapping import MappingError, mapping_resolve

        departments = None
        if opts["department"]:
            try:  # by slug or by name
                departments = mapping_resolve({"--department": opts["department"]})["--department"]
            except MappingError as exc:
                raise CommandError(str(exc)) from exc
        per_file = {}
        if opts.get("mapping"):
            from apps.knowledge.kb_mapping import mapping_load

            try:
                per_file = mapping_resolve(mapping_load(opts["mapping"]))
            except MappingError as exc:
                raise CommandError(str(exc)) from exc
        tags = None
        if opts["tags"] is not None:
            tags = [t.strip() for raw in opts["tags"] for t in raw.split(",") if t.strip()]
        files = collect(opts["paths"])
        if not files:
            raise CommandError("no supported files found (" + ", ".join(sorted(EXTENSIONS)) + ")")
        if per_file:
            from apps.knowledge.kb_mapping import mapping_for

            keys = {source.split("/", 1)[1] if "/" in source else source for _p, source in files} | \
                {path.name for path, _s in files}
            unmatched = sorted(k for k in per_file if k not in keys)
            if unmatched:
                raise CommandError(f"{opts['mapping']}: no such file among those given: {', '.join(unmatched)}")
        counts: dict[str, int] = {}
        errors: list[str] = []
        bar = tqdm(total=len(files) * 100, disable=opts["no_progress"], file=self.stderr._out,
                   bar_format="{desc:<42}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        for index, (path, source) in enumerate(files):
            bar.set_description_str(f"[{index + 1}/{len(files)}] {path.name[:32]}")
            base = index * 100

            def on_progress(percent: int, base=base) -> None:
                bar.n = base + percent
                bar.refresh()

            file_departments = departments
            if per_file:
                mapped = mapping_for(per_file, source.split("/", 1)[1] if "/" in source else source, path.name)
                file_departments = mapped if mapped is not None else departments
            document, action = document_upsert_file(path=path, source=source, language=opts["language"],
                                                    departments=file_departments, tags=tags, force=opts["force"],
                                                    on_progress=on_progress)
            bar.n = base + 100
            bar.refresh()
            counts[action] = counts.get(action, 0) + 1
            if action == "error":
                errors.append(f"{path}: {document.error}")
            elif opts["verbosity"] >= 2:
                bar.write(f"{action:<9} {path} -> #{document.pk} ({document.chunk_count} chunks)")
        bar.close()
        summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
        for line in errors:
            self.stderr.write(self.style.ERROR(line))
        self.stdout.write(self.style.SUCCESS(f"{len(files)} file(s): {summary}") if not errors
                          else self.style.WARNING(f"{len(files)} file(s): {summary}"))
        if errors and len(errors) == len(files):
            raise CommandError("no file could be ingested")
