"""File parsers: bytes in, a list of :class:`Section` (heading + paragraphs) out.

Every failure is an :class:`IngestError` whose message is shown to the Operator as it is, so it
says what is wrong and what to do. Parsers never touch the database or the vector store.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings
from django.utils.translation import gettext as _

from .models import DocumentKind


class IngestError(Exception):
    """A document that cannot be ingested; ``str(exc)`` is the Operator-facing message."""


@dataclass
class Section:
    heading: str = ""
    paragraphs: list[str] = field(default_factory=list)
    faq: bool = False  # one FAQ row: never split, never merged


EXTENSIONS = {
    ".pdf": DocumentKind.PDF, ".docx": DocumentKind.DOCX, ".html": DocumentKind.HTML, ".htm": DocumentKind.HTML,
    ".md": DocumentKind.MARKDOWN, ".markdown": DocumentKind.MARKDOWN, ".txt": DocumentKind.TEXT,
    ".text": DocumentKind.TEXT, ".csv": DocumentKind.CSV, ".xlsx": DocumentKind.XLSX,
}
ACCEPTED = ", ".join(sorted({e.lstrip(".").upper() for e in EXTENSIONS if e not in {".htm", ".markdown", ".text"}}))


def max_upload_bytes() -> int:
    return int(getattr(settings, "KB_MAX_UPLOAD_MB", 20) or 20) * 1024 * 1024


def kind_for_name(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    kind = EXTENSIONS.get(suffix)
    if kind is None:
        raise IngestError(_("Unsupported file type “%(ext)s”. Upload one of: %(accepted)s.")
                          % {"ext": suffix or _("no extension"), "accepted": ACCEPTED})
    return kind


def check_size(size: int) -> None:
    if size <= 0:
        raise IngestError(_("The file is empty."))
    limit = max_upload_bytes()
    if size > limit:
        raise IngestError(_("The file is %(size).1f MB; the limit is %(limit)d MB (KB_MAX_UPLOAD_MB). "
                            "Split it into smaller documents.")
                          % {"size": size / 1024 / 1024, "limit": limit // (1024 * 1024)})


def _check_signature(kind: str, data: bytes) -> None:
    """The content must match the extension: a renamed .exe is not a PDF."""
    head = data[:1024]
    if kind == DocumentKind.PDF and b"%PDF-" not in head:
        raise IngestError(_("This file is not a valid PDF (it does not start like one). Check the file type."))
    if kind in (DocumentKind.DOCX, DocumentKind.XLSX) and not data.startswith(b"PK"):
        raise IngestError(_("This file is not a valid %(kind)s document (it is not an Office Open XML file; "
                            "old .doc/.xls files must be saved again as .docx/.xlsx).") % {"kind": kind.upper()})
    if kind in (DocumentKind.HTML, DocumentKind.MARKDOWN, DocumentKind.TEXT, DocumentKind.CSV):
        if b"\x00" in head:
            raise IngestError(_("This file looks binary, not text. Check the file type."))


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


_SPACES = re.compile(r"[ \t\u00a0]+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, single newlines inside a paragraph joined."""
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [_clean(line) for line in block.split("\n")]
        lines = [line for line in lines if line]
        if not lines:
            continue
        # list items and table rows keep their own line; wrapped prose is joined
        joined = lines[0]
        for line in lines[1:]:
            joined += ("\n" if _LINE_START.match(line) else " ") + line
        out.append(joined)
    return out


_LINE_START = re.compile(r"^([-*•+|]|\d+[.)])\s?")


# --- formats --------------------------------------------------------------------------------------

def parse_text(data: bytes) -> list[Section]:
    return [Section(paragraphs=_paragraphs(_decode(data)))]


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def parse_markdown(data: bytes) -> list[Section]:
    text = _decode(data)
    text = re.sub(r"^---\n.*?\n---\n", "", text, flags=re.S)  # front matter
    sections: list[Section] = []
    trail: list[str] = []  # heading path, e.g. ["Plans", "Fibra 300"]
    buffer: list[str] = []

    def flush():
        body = "\n".join(buffer)
        faq = bool(trail and FAQ_HEADING.search(trail[-1]))
        paras = [_strip_md(p, faq=faq) for p in _paragraphs(body)]
        paras = [p for p in paras if p]
        if paras:
            sections.append(Section(heading=" › ".join(trail), paragraphs=paras))
        buffer.clear()

    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            trail[:] = trail[:level - 1] + [_strip_md(match.group(2))]
            continue
        buffer.append(line)
    flush()
    return sections


# The heading of a page's questions-and-answers section ("FAQ", "Frequently asked questions",
# "Preguntas frecuentes", "Dudas comunes").
FAQ_HEADING = re.compile(r"\b(?:faqs?|frequently asked questions|common questions|questions and answers|q ?& ?a|"
                         r"preguntas (?:frecuentes|comunes)|dudas (?:frecuentes|comunes)|preguntas y respuestas)\b",
                         re.IGNORECASE)


def _strip_md(text: str, *, faq: bool = False) -> str:
    # a paragraph opening with a question in bold ("**Can I pay in store?** No. ...") is an FAQ entry:
    # the question keeps a line of its own, so the reader knows where it ends once the bold is gone.
    # Under an FAQ heading (``faq``) an entry may open with the customer's situation instead ("**The
    # order says Preparing and I need to change the postcode.** It can't be changed..."): the same.
    ends = r"[.!?]" if faq else r"\?"
    text = re.sub(r"^\s*(\*\*|__)([^*_\n]{3,200}?%s)\1[ \t]*(?=\S)" % ends, r"\2\n", text)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    text = re.sub(r"^\s*\|?[-:| ]+\|?\s*$\n?", "", text, flags=re.M)  # table rule lines
    text = re.sub(r"^\s*\|(.*?)\|?\s*$", lambda m: " | ".join(c.strip() for c in m.group(1).split("|")),
                  text, flags=re.M)  # "| a | b |" -> "a | b"
    return text.strip()


def parse_html(data: bytes) -> list[Section]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "svg", "head", "nav", "footer", "form"]):
        tag.decompose()
    sections: list[Section] = [Section()]
    trail: list[str] = []
    body = soup.body or soup
    for element in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote",
                                  "dt", "dd"]):
        if element.find_parent(["li", "td", "th", "blockquote", "dd"]) and element.name == "p":
            continue  # counted with its container
        text = _clean(element.get_text(" ", strip=True))
        if not text:
            continue
        if element.name[0] == "h" and element.name[1:].isdigit():
            level = int(element.name[1:])
            trail[:] = trail[:level - 1] + [text]
            sections.append(Section(heading=" › ".join(trail)))
        elif element.name == "li":
            sections[-1].paragraphs.append(f"- {text}")
        else:
            sections[-1].paragraphs.append(text)
    if not any(s.paragraphs for s in sections):  # no block elements at all: plain text inside <body>
        sections = [Section(paragraphs=_paragraphs(body.get_text("\n")))]
    return [s for s in sections if s.paragraphs]


def parse_pdf(data: bytes) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An empty user password still opens some "encrypted" PDFs (permissions only).
            try:
                opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 (unsupported algorithm etc.)
                opened = 0
            if not opened:
                raise IngestError(_("This PDF is encrypted (password protected). Remove the password "
                                    "(print or export it to a new PDF) and upload it again."))
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            paras = _paragraphs(text)
            if paras:
                sections.append(Section(heading=_("Page %(n)d") % {"n": number}, paragraphs=paras))
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IngestError(_("This PDF could not be read (%(error)s). It may be damaged; "
                            "export it again and upload the new file.") % {"error": exc}) from exc
    if not sections:
        raise IngestError(_("No text found in this PDF. It may be a scanned image: upload a PDF with "
                            "selectable text, or the text as a DOCX/TXT file."))
    return sections


def parse_docx(data: bytes) -> list[Section]:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(_("This DOCX file could not be read (%(error)s). Open it in your word processor "
                            "and save it again as .docx.") % {"error": exc}) from exc
    except Exception as exc:  # python-docx raises PackageNotFoundError and friends
        raise IngestError(_("This DOCX file could not be read (%(error)s). Open it in your word processor "
                            "and save it again as .docx.") % {"error": exc}) from exc
    sections = [Section()]
    trail: list[str] = []
    for para in document.paragraphs:
        text = _clean(para.text)
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        match = re.match(r"(heading|título|titulo)\s*(\d)", style)
        if match or style == "title":
            level = int(match.group(2)) if match else 1
            trail[:] = trail[:level - 1] + [text]
            sections.append(Section(heading=" › ".join(trail)))
        elif "list" in style:
            sections[-1].paragraphs.append(f"- {text}")
        else:
            sections[-1].paragraphs.append(text)
    for table in document.tables:
        rows = []
        for row in table.rows:
            cells = [_clean(c.text) for c in row.cells]
            if any(cells):
                rows.append(" | ".join(cells))
        if rows:
            sections.append(Section(heading=trail[0] if trail else "", paragraphs=rows))
    return [s for s in sections if s.paragraphs]


_Q_NAMES = {"question", "questions", "pregunta", "preguntas", "q", "p"}
_A_NAMES = {"answer", "answers", "respuesta", "respuestas", "a", "r"}


def _faq_rows(rows: list[list[str]]) -> list[Section]:
    rows = [[_clean(str(c)) if c is not None else "" for c in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        raise IngestError(_("The spreadsheet is empty."))
    header = [c.lower() for c in rows[0]]
    q_col = next((i for i, name in enumerate(header) if name in _Q_NAMES), None)
    a_col = next((i for i, name in enumerate(header) if name in _A_NAMES), None)
    if q_col is None or a_col is None:
        raise IngestError(_("An FAQ spreadsheet needs a header row with a “question” and an “answer” column "
                            "(or “pregunta” and “respuesta”). Found: %(found)s.")
                          % {"found": ", ".join(c for c in rows[0] if c) or _("no header")})
    sections = []
    for row in rows[1:]:
        question = row[q_col] if q_col < len(row) else ""
        answer = row[a_col] if a_col < len(row) else ""
        if question and answer:
            sections.append(Section(heading=question[:300], paragraphs=[f"Q: {question}\nA: {answer}"], faq=True))
    if not sections:
        raise IngestError(_("The FAQ spreadsheet has no row with both a question and an answer."))
    return sections


def parse_csv(data: bytes) -> list[Section]:
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise IngestError(_("This CSV file could not be read (%(error)s).") % {"error": exc}) from exc
    return _faq_rows(rows)


def parse_xlsx(data: bytes) -> list[Section]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 (openpyxl raises many kinds)
        raise IngestError(_("This XLSX file could not be read (%(error)s). Open it in your spreadsheet and "
                            "save it again as .xlsx.") % {"error": exc}) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _faq_rows(rows)


PARSERS = {
    DocumentKind.PDF: parse_pdf, DocumentKind.DOCX: parse_docx, DocumentKind.HTML: parse_html,
    DocumentKind.MARKDOWN: parse_markdown, DocumentKind.TEXT: parse_text, DocumentKind.CSV: parse_csv,
    DocumentKind.XLSX: parse_xlsx,
}


def parse(*, kind: str, data: bytes) -> list[Section]:
    """Validate and parse; raises :class:`IngestError` with a clear message."""
    check_size(len(data))
    _check_signature(kind, data)
    sections = PARSERS[kind](data)
    if not any(p.strip() for s in sections for p in s.paragraphs):
        raise IngestError(_("No text found in this file."))
    return sections
