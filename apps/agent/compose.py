"""Reply composer (placeholder, filled in next)."""
QUOTE_NOTICE = {"en": "This is only written in Spanish in our help pages:",
                "es": "Esto solo está escrito en inglés en nuestras páginas de ayuda:"}


def declares_quote(reply: str, language: str) -> bool:
    return bool(language) and reply.startswith(QUOTE_NOTICE.get(language, "\0"))
