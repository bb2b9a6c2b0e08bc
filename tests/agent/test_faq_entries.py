"""A help page's question-and-answer entries written inline ("**¿Puedo pagar en la tienda un pedido hecho
en la web?** No. El pedido tiene que estar pagado en línea.") are read as a question and its answer: the
question is what the answer is about, never part of a reply (``compose.faq_entries``; the Markdown parser
keeps a bold question on its own line, ``parsers._strip_md``)."""
from __future__ import annotations

import numpy as np

from apps.agent.compose import select_answer, split_units
from apps.knowledge.parsers import parse_markdown
from apps.knowledge.search import SearchHit

PAGE = """# Store pickup

## Frequently asked questions

**¿Puedo pagar en la tienda un pedido hecho en la web?** No. El pedido tiene que estar pagado en línea antes de retirarlo.

**¿Puedo revisar el producto en la tienda?** Sí. Te recomendamos abrir la caja en el mostrador.

**Compré la semana pasada y hoy está más barato en la web. ¿Me devuelven la diferencia?** No. La igualación de precios solo cubre a la competencia.
"""


def _paragraphs() -> str:
    """The FAQ section as the knowledge base stores it (the Markdown parser's paragraphs)."""
    sections = parse_markdown(PAGE.encode())
    return "\n\n".join(sections[-1].paragraphs)


def test_the_markdown_parser_keeps_a_bold_question_on_its_own_line():
    text = _paragraphs()
    assert "¿Puedo revisar el producto en la tienda?\nSí. Te recomendamos" in text
    # a question of two sentences stays whole on its line
    assert "Compré la semana pasada y hoy está más barato en la web. ¿Me devuelven la diferencia?\nNo." in text
    assert "**" not in text


def test_an_faq_question_is_what_its_answer_is_about_not_a_unit():
    units = split_units(_paragraphs())
    texts = [u.text for u in units]
    assert not any(t.rstrip().endswith("?") for t in texts), texts
    store = [u for u in units if u.text.startswith("Sí. Te recomendamos") or u.text == "Sí."]
    assert store and all(u.asks == "¿Puedo revisar el producto en la tienda?" for u in store)
    refund = [u for u in units if "competencia" in u.text]
    assert refund[0].asks == "Compré la semana pasada y hoy está más barato en la web. ¿Me devuelven la diferencia?"


def test_questions_written_plain_inline_or_alone_above_their_answer():
    units = split_units("Can I pay in store? No. Orders must be paid online.\n\n"
                        "What happens if the store closes before I arrive? Is the order lost?\n\n"
                        "We keep the order for 10 days.")
    assert [(u.text, u.asks) for u in units] == [
        ("No. Orders must be paid online.", "Can I pay in store?"),
        ("We keep the order for 10 days.", "What happens if the store closes before I arrive? Is the order lost?")]
    # a bold question given to the reader directly, and a page's last, unanswered question read as written
    units = split_units("**Can I return it?**\nYes, within 30 days.\n\nAny other question?")
    assert [(u.text, u.asks) for u in units] == [("Yes, within 30 days.", "Can I return it?"),
                                                 ("Any other question?", "")]


def test_the_reply_is_the_answer_the_question_of_the_page_is_not():
    """Every text embeds alike: the words decide, and the FAQ question's words count for its answer. Before,
    the page's questions were units of their own, and the closest one to the customer's question was the
    reply ("¿Puedo revisar el producto en la tienda? ¿Puedo pagar...?")."""
    hit = SearchHit(chunk_id=987501, document_id=1, document_title="Retiro en tienda", heading="Preguntas frecuentes",
                    text=_paragraphs(), score=0.6, language="es")

    def embed(texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    selection = select_answer("¿Puedo revisar el producto en la tienda antes de llevarlo?", np.ones(4, dtype=np.float32) / 2.0,
                              [hit], language="es", embed=embed, params={"extra_units": 0}, ranker={"none": True})
    assert "Te recomendamos abrir la caja en el mostrador" in selection.text, selection.text
    assert "?" not in selection.text
