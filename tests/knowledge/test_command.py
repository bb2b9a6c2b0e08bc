"""manage.py kb_ingest: files and folders, departments, tags, idempotent by checksum."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.knowledge.models import Document, DocumentStatus

from .builders import docx_bytes


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("kb_ingest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "kb"
    (root / "sub").mkdir(parents=True)
    (root / "plans.md").write_text("# Plans\nFibra 300 costs $19,900 per month.\n")
    (root / "sub" / "baja.docx").write_bytes(docx_bytes("Baja", ["La baja se hace efectiva a fin de mes."]))
    (root / "sub" / "faq.csv").write_text("question,answer\nDo you have TV?,Yes.\n")
    (root / "ignored.png").write_bytes(b"\x89PNG")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("# no\nnot me\n")
    return root


def test_ingests_a_folder_with_progress_and_is_idempotent(cast, folder):
    out, err = run(str(folder), "--department", "technical-support", "--tags", "plans,billing", "extra")
    assert "3 file(s): 3 created" in out
    assert "100%" in err  # the tqdm bar
    docs = Document.objects.order_by("source")
    assert [d.source for d in docs] == ["kb/plans.md", "kb/sub/baja.docx", "kb/sub/faq.csv"]
    assert all(d.status == DocumentStatus.READY for d in docs)
    assert all(list(d.departments.values_list("slug", flat=True)) == ["technical-support"] for d in docs)
    assert docs[0].tags == ["plans", "billing", "extra"] and docs[0].title == "Plans"
    chunks = {d.pk: list(d.chunks.values_list("id", flat=True)) for d in docs}

    out, _ = run(str(folder), "--no-progress")
    assert "3 file(s): 3 unchanged" in out
    assert {d.pk: list(d.chunks.values_list("id", flat=True)) for d in Document.objects.all()} == chunks


def test_changed_file_is_replaced(cast, folder):
    run(str(folder / "plans.md"), "--language", "en")
    (folder / "plans.md").write_text("# Plans\nFibra 300 now costs $21,000 per month.\n")
    out, _ = run(str(folder / "plans.md"))
    assert "1 updated" in out
    document = Document.objects.get(source="plans.md")
    assert document.language == "en" and "$21,000" in document.chunks.get().text
    assert Document.objects.count() == 1


def test_same_content_under_another_name_is_not_duplicated(cast, folder, tmp_path):
    run(str(folder / "plans.md"))
    copy = tmp_path / "copy-of-plans.md"
    copy.write_bytes((folder / "plans.md").read_bytes())
    out, _ = run(str(copy))
    assert "1 duplicate" in out and Document.objects.count() == 1


def test_bad_files_are_reported(cast, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ok.txt").write_text("Opening hours: 9 to 17.\n")
    out, err = run(str(tmp_path), "--no-progress")
    assert "1 created" in out and "1 error" in out
    assert "empty.txt: The file is empty." in err
    with pytest.raises(CommandError, match="no file could be ingested"):
        run(str(tmp_path / "empty.txt"), "--no-progress")


def test_unknown_path_and_department(cast, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing"))
    (tmp_path / "a.md").write_text("# A\ntext\n")
    with pytest.raises(CommandError, match="unknown department"):
        run(str(tmp_path), "--department", "nope")


def test_kb_reindex_rebuilds_every_document(cast, folder):
    run(str(folder), "--no-progress")
    before = {d.pk: set(d.chunks.values_list("vector_id", flat=True)) for d in Document.objects.all()}
    out = StringIO()
    call_command("kb_reindex", "--no-progress", stdout=out, stderr=StringIO())
    assert "3 document(s) re-indexed, 0 failed" in out.getvalue()
    after = {d.pk: set(d.chunks.values_list("vector_id", flat=True)) for d in Document.objects.all()}
    assert before.keys() == after.keys() and all(not (before[k] & after[k]) for k in before)
