"""Names in the reader's language: a Department (and an AI Agent topic) has its name plus one
optional field per language of ``settings.LANGUAGES`` (``name_es``, ``name_en``), edited in the
admin. Everything a customer or a staff member reads goes through ``localized_name``; an empty field
falls back to the plain name."""
from __future__ import annotations

from django.conf import settings
from django.utils import translation

LANGUAGE_CODES = [code for code, _label in settings.LANGUAGES]


def language_code(language: str | None = None) -> str:
    """``language`` (default: the active language, else the operation's) as a bare code: "es-AR" -> "es"."""
    return (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()


def localized_name(obj, language: str | None = None) -> str:
    """``obj``'s name in ``language`` (default: the active language); the plain name when none."""
    if obj is None:
        return ""
    code = language_code(language)
    if code in LANGUAGE_CODES:
        value = getattr(obj, f"name_{code}", "") or ""
        if value.strip():
            return value
    return obj.name


department_name = localized_name
