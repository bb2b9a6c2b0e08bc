"""Compile the gettext catalogues (.po -> .mo) with pure Python, so a fresh machine needs no
GNU gettext: the .po files are the source of truth in the repo, the .mo files are build output."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings


def catalogue_paths() -> list[Path]:
    from asisteclick.catalogues import catalogue_paths as paths

    return paths(Path(settings.BASE_DIR))


def compile_catalogues(force: bool = False) -> int:
    from asisteclick.catalogues import compile_catalogues as compile_all

    return compile_all(Path(settings.BASE_DIR), force=force)


# --- extraction and checks (pure Python; no GNU gettext needed) -------------------------------
import ast  # noqa: E402
import re  # noqa: E402

GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy", "ngettext",
                 "ngettext_lazy", "npgettext", "npgettext_lazy"}
_TEMPLATE_CALL = re.compile(r"\b(gettext|pgettext|ngettext|npgettext|_)\(\s*((?:u?'(?:[^'\\]|\\.)*'|u?\"(?:[^\"\\]|\\.)*\")"
                            r"(?:\s*,\s*(?:u?'(?:[^'\\]|\\.)*'|u?\"(?:[^\"\\]|\\.)*\"))*)")
_STRING = re.compile(r"u?('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def source_roots() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return [base / "apps", base / "asisteclick", base / "templates"]


def _python_files() -> list[Path]:
    files = []
    for root in source_roots():
        for path in root.rglob("*.py"):
            parts = set(path.parts)
            if "migrations" in parts or "tests" in parts or "__pycache__" in parts:
                continue
            files.append(path)
    return sorted(files)


def _template_files() -> list[Path]:
    files = []
    for root in source_roots():
        files += [p for p in root.rglob("*.html") if "templates" in p.parts]
    return sorted(set(files))


def _msgids_from_python(path: Path) -> list[tuple[str, str | None, int]]:
    """(msgid, context, line) for every gettext-family call with literal arguments."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in GETTEXT_NAMES:
            continue
        literals = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not literals:
            continue
        if name.startswith("p") or name.startswith("np"):
            context, ids = literals[0], literals[1:3] if name.startswith("np") else literals[1:2]
        else:
            context, ids = None, literals[:2] if name.startswith("n") else literals[:1]
        found += [(msgid, context, node.lineno) for msgid in ids]
    return found


def _msgids_from_template(path: Path) -> list[tuple[str, str | None, int]]:
    from django.utils.translation.template import templatize

    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    found = []
    for lineno, line in enumerate(code.splitlines(), start=1):
        for match in _TEMPLATE_CALL.finditer(line):
            strings = [ast.literal_eval(s.lstrip("u")) for s in _STRING.findall(match.group(2))]
            func = match.group(1)
            if func.startswith("p") or func.startswith("np"):
                context, ids = strings[0], strings[1:]
            else:
                context, ids = None, strings
            found += [(msgid, context, lineno) for msgid in ids if msgid]
    return found


def extract_messages() -> dict[tuple[str, str | None], str]:
    """Every translatable message in the project -> where it first appears."""
    messages: dict[tuple[str, str | None], str] = {}
    for path in _python_files():
        for msgid, ctx, line in _msgids_from_python(path):
            messages.setdefault((msgid, ctx), f"{path.relative_to(settings.BASE_DIR)}:{line}")
    for path in _template_files():
        for msgid, ctx, line in _msgids_from_template(path):
            messages.setdefault((msgid, ctx), f"{path.relative_to(settings.BASE_DIR)}:{line}")
    return messages


def catalogue_entries(language: str = "es") -> dict[tuple[str, str | None], bool]:
    """(msgid, context) -> translated? across every catalogue of ``language``."""
    import polib

    entries: dict[tuple[str, str | None], bool] = {}
    for po_path in catalogue_paths():
        if po_path.parent.parent.name != language:
            continue
        for entry in polib.pofile(str(po_path)):
            if entry.obsolete:
                continue
            done = entry.translated() and "fuzzy" not in entry.flags
            key = (entry.msgid, entry.msgctxt)
            entries[key] = entries.get(key, False) or done
            if entry.msgid_plural:
                entries[(entry.msgid_plural, entry.msgctxt)] = entries[key]
    return entries


def missing_translations(language: str = "es") -> dict[tuple[str, str | None], str]:
    known = catalogue_entries(language)
    return {key: where for key, where in extract_messages().items() if not known.get(key)}


# Text a person reads that must be marked: template text nodes and these attributes; Python
# literals passed where Django shows them to users.
_ATTRS = re.compile(r"""\b(placeholder|aria-label|title|alt|aria-description|value)\s*=\s*"([^"{}]*[A-Za-z][^"{}]*)\"""")
_DEFAULT_FILTER = re.compile(r'\|default(?:_if_none)?:"([^"]*[A-Za-z]{2,}[^"]*)"')  # {{ x|default:"Nothing yet" }}
_ALLOWED_TEXT = {"AsisteClick", "×", "—", "·", "#", "OK"}
_PY_USER_FACING_KWARGS = {"verbose_name", "verbose_name_plural", "help_text", "label", "empty_label",
                          "description", "short_description"}  # the last two: @admin.display / @admin.action
_API_DOC_CALLS = {"OpenApiParameter", "OpenApiResponse", "OpenApiExample", "extend_schema", "extend_schema_field",
                  "extend_schema_view", "inline_serializer"}
# message_user: the admin's flash message (its text is the second argument).
_PY_USER_FACING_CALLS = {"success", "error", "info", "warning", "message_user", "DomainError", "IllegalTransition", "AlreadyTaken",
                         "NotAllowed", "InvalidInput", "ValidationError", "PermissionDenied", "Http404"}


def _strip_template(text: str) -> str:
    text = re.sub(r"{%\s*blocktrans(late)?\b.*?{%\s*endblocktrans(late)?\s*%}", " ", text, flags=re.S)
    text = re.sub(r"{#.*?#}", " ", text, flags=re.S)
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", text, flags=re.S | re.I)  # code is not prose
    text = re.sub(r"{%.*?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}", " ", text, flags=re.S)
    return text


def unmarked_template_text(path: Path) -> list[str]:
    raw = path.read_text(encoding="utf-8")
    stripped = _strip_template(raw)
    problems = []
    for attr, value in _ATTRS.findall(stripped):
        if attr == "value" or value.strip() in _ALLOWED_TEXT:
            continue
        problems.append(f'{attr}="{value}"')
    for value in _DEFAULT_FILTER.findall(raw):
        problems.append(f'default:"{value}"')
    body = re.sub(r"<[^>]*>", " ", stripped)
    for chunk in re.split(r"\s{2,}|\n", body):
        chunk = chunk.strip(" ·—-|:()#")
        if chunk and re.search(r"[A-Za-zÁÉÍÓÚáéíóúñÑ]{2,}", chunk) and chunk not in _ALLOWED_TEXT \
                and not chunk.startswith("&"):
            problems.append(chunk)
    return problems


def unmarked_python_strings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return []
    problems = []

    def is_plain_text(node) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"[A-Za-z]{2,}", node.value) \
            and " " in node.value.strip() or (isinstance(node, ast.JoinedStr))

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        for kw in node.keywords:
            if kw.arg == "description" and name in _API_DOC_CALLS:
                continue  # OpenAPI descriptions are the integrators' reference, written in English
            if kw.arg in _PY_USER_FACING_KWARGS and isinstance(kw.value, ast.Constant) \
                    and isinstance(kw.value.value, str) and kw.value.value:
                problems.append(f"line {node.lineno}: {kw.arg}={kw.value.value!r}")
        if name in {"success", "error", "info", "warning"} and not (
                isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "messages"):
            continue  # logger.info(...) and friends are for operators of the server, not users
        if name in _PY_USER_FACING_CALLS:
            # A flash message may be one word ("Saved"); exception texts need a space to tell them from codes.
            flash = name in {"success", "error", "info", "warning", "message_user"}
            for arg in node.args:
                if is_plain_text(arg) or (flash and isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                                          and re.fullmatch(r"[A-Z][a-z]+[.!]?", arg.value.strip())):
                    problems.append(f"line {node.lineno}: {name}({ast.unparse(arg)[:60]})")
    return problems


def unmarked_strings() -> dict[str, list[str]]:
    report = {}
    for path in _template_files():
        found = unmarked_template_text(path)
        if found:
            report[str(path.relative_to(settings.BASE_DIR))] = found
    for path in _python_files():
        found = unmarked_python_strings(path)
        if found:
            report[str(path.relative_to(settings.BASE_DIR))] = found
    return report
