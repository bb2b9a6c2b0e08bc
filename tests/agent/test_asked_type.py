"""Stop 52: what kind of answer a message asks for is read off what it asks, not off what it tells.

- "Is this a scam? A WhatsApp number says I won a TecnoMundo TV and I have to pay MXN 350 for shipping" asks
  whether it is a scam: the "number" and the "MXN 350" of its story made it a contact question, and the
  return-shipping costs table (figures of three digits and more) beat "We don't run prize draws that ask
  you to pay shipping" (TecnoMundo t063). "I opened a pair of earbuds, wore them for a day... Can I send them
  back?" is no question about a time ("a day", t145). ``compose.answer_type_asked`` reads the message's
  sentences that ask (``asked_sentences``: not cut after "Av." or inside "2.5"), else the whole message.
- An instruction may follow the condition it applies to: "Si también te robaron el celular, llama a nuestra
  línea de bloqueo" tells the customer what to do (``compose._INSTRUCTION``), as "Call our line" does.
"""
from __future__ import annotations

from apps.agent.compose import _FIGURE, _INSTRUCTION, _MONEY_VALUE, _TIME_VALUE, answer_type_asked

from .test_answers import _select_flat

SCAM = ("We don't run prize draws that ask you to pay shipping or a fee to claim a prize: it is a scam.\n\n"
        "Return shipping from Mexico costs MXN 199 by courier, 1 800 226 4000 to book it.")


def test_the_answer_type_is_read_off_the_question_not_off_the_story_before_it():
    told = "A WhatsApp number says I won a TV and I have to pay MXN 350 for shipping to get it."
    # the story alone, with no question, is read whole (a contact: "number")
    assert answer_type_asked(told) is not None
    assert answer_type_asked(f"Is this a scam? {told}") is None
    assert answer_type_asked("I opened a pair of earbuds, wore them for a day and don't like the fit. "
                             "Can I send them back?") is None
    # the question still names the type, wherever it sits in the message
    assert answer_type_asked("My order is late. How long does shipping to Neuquén take?") is _TIME_VALUE
    assert answer_type_asked("Tengo una verdulería en Lanús. ¿Cuánto me cobran por cada venta?") is _MONEY_VALUE
    assert answer_type_asked("¿Cuántas cuotas puedo pagar? Compré una tele") is _FIGURE
    # a message without a question mark is read whole
    assert answer_type_asked("if i order a kettle today when will it arrive") is _TIME_VALUE
    # a question is not cut after an abbreviation or inside a figure, and a chat's lower case ends a sentence
    assert answer_type_asked("How much does the Av. Colón store charge to deliver a 2.5 kg box?") is _MONEY_VALUE
    assert answer_type_asked("What time does Dr. Pérez see patients on Saturdays?") is _TIME_VALUE
    assert answer_type_asked("hola, gané un premio por whatsapp. es una estafa?") is None


def test_a_question_is_answered_by_what_it_asks_not_by_the_figures_of_its_story():
    question = ("Is this a scam? A WhatsApp number says I won a TV and I have to pay MXN 350 for shipping "
                "to get it.")
    answer = _select_flat(question, SCAM, "Security", {"span": 1})
    assert answer.startswith("We don't run prize draws"), answer


def test_an_instruction_may_follow_the_condition_it_applies_to():
    for instruction in ("Si también te robaron el celular, llama a nuestra línea de bloqueo: 0800-222-7267.",
                        "If your phone was stolen too, call our blocking line on 0800-222-7267.",
                        "Cuando llegue el repartidor, abrí la caja delante de él."):
        assert _INSTRUCTION.search(instruction), instruction
    for remark in ("If a check fails, the app shows the result.", "If it is broken, we send a technician.",
                   "Si el pedido se demora, te avisamos por mail."):
        assert not _INSTRUCTION.search(remark), remark


RESTART_NUMBERED = ("Restarting fixes most problems.\n\n"
                    "1. Unplug the router and the ONT from the power socket.\n2. Wait 30 seconds.\n"
                    "3. Plug in the ONT first and wait 2 minutes.\n"
                    "4. Plug in the router and wait until the internet light is on.\n\n"
                    "A remote restart takes about 3 minutes.")


def test_steps_of_a_procedure_are_shown_from_its_first_step_whatever_the_question():
    """"No tengo internet desde esta mañana" asks no how-to, and its words match the restart's last step (the
    internet light): the answer was "Plug in the router and wait until the internet light is on..." without
    the unplugging that opens the procedure (FibraSur es-075). A numbered list is a procedure."""
    from apps.agent.compose import split_units, steps_from_the_middle

    answer = _select_flat("My internet light is off since this morning", RESTART_NUMBERED, "Router", {"span": 1})
    steps = [answer.find(s) for s in ("Unplug the router", "Wait 30 seconds", "Plug in the ONT", "Plug in the router")]
    assert -1 not in steps and steps == sorted(steps), answer
    units = split_units(RESTART_NUMBERED)
    last = next(i for i, u in enumerate(units) if u.text.startswith("Plug in the router"))
    assert units[last].ordered and steps_from_the_middle(units, [last])
    # a list that is no procedure (no numbers, no instructions) keeps the item asked about alone
    places = split_units("We cover:\n\n- Centro\n- Barrio Norte\n- Palihue\n- Villa Mitre")
    assert not steps_from_the_middle(places, [len(places) - 1])
