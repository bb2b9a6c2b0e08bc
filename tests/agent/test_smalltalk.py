"""Short small talk the scope classifier has no class for ("How are you?", "ok", "bye", "Are you a bot?",
"What can you do?"): recognised by the nearest example (``apps.agent.smalltalk``), answered with its message,
never handed off; a request for a person stays one. And a follow-up that asks the conversation's question
again of another place ("How about Villa Mitre?" after the answer on Punta Alta) is answered with a passage
that names it (``compose.substituted_names``)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.agent import builtin
from apps.agent.classifier import ScopePrediction
from apps.agent.compose import names_no_subject, substituted_names
from apps.agent.smalltalk import beyond_smalltalk
from apps.conversations.models import Status

from .helpers import conversation, shipped_threshold

pytestmark = pytest.mark.django_db


def _kept_by_the_bot(cast, *texts):
    """The bot's replies to the last of ``texts`` (at the shipped threshold); the bot still has the chat."""
    shipped_threshold()
    conv, replies = conversation(cast, *texts)
    assert conv.status == Status.BOT
    return replies


@pytest.mark.parametrize("text,expected", [
    ("How are you?", "Hi! I'm the virtual assistant (AI). How can I help you?"),
    ("Hola, ¿cómo estás?", "¡Hola! Soy el asistente virtual (IA). ¿En qué te puedo ayudar?"),
])
def test_how_are_you_is_a_greeting_not_a_handoff(fibrasur, text, expected):
    # "how are you today" is one of the classifier's out-of-scope examples: before, a person got the chat
    shipped_threshold()
    conv, replies = conversation(fibrasur, text)
    assert conv.status == Status.BOT
    assert [r.body for r in replies] == [expected]
    assert replies[0].meta["intent"] == "greeting"


@pytest.mark.parametrize("last,intent,expected", [
    ("ok", "acknowledge", "Anything else I can help you with?"),
    ("perfect", "acknowledge", "Anything else I can help you with?"),
    ("bye", "goodbye", "Thanks for writing! If you need anything else, write to us here."),
])
def test_after_an_answer_ok_and_bye_are_not_greeted_again(fibrasur, last, intent, expected):
    # before, "ok" and "bye" got "Hi! I'm the virtual assistant (AI). How can I help you?"
    replies = _kept_by_the_bot(fibrasur, "How much is the installation?", last)
    assert [r.body for r in replies] == [expected]
    assert replies[0].meta["intent"] == intent and replies[0].sources == []


def test_chau_in_spanish(fibrasur):
    replies = _kept_by_the_bot(fibrasur, "¿Cómo pago la factura?", "Chau")
    assert [r.body for r in replies] == ["¡Gracias por escribirnos! Si necesitás algo más, escribinos por acá."]


def test_what_can_you_do_names_the_topics_the_bot_answers_in_the_customers_language(fibrasur):
    from apps.agent.models import Topic

    shipped_threshold()
    conv, replies = conversation(fibrasur, "What can you do?")
    assert conv.status == Status.BOT
    body = replies[0].body
    assert body.startswith("I'm the virtual assistant (AI) of FibraSur. I answer from our help pages about: ")
    assert "Coverage" in body and "Plans and prices" in body and "Invoice status" in body  # an action counts
    restricted = Topic.objects.filter(bot_may_answer=False)
    assert restricted.exists() and not any(t.name in body for t in restricted)  # never a topic it hands off
    assert body.endswith("If you'd rather talk to a person, just tell me.")
    conv, replies = conversation(fibrasur, "¿Qué podés hacer?")
    assert "Cobertura" in replies[0].body and "Planes y precios" in replies[0].body
    assert replies[0].body.startswith("Soy el asistente virtual (IA) de FibraSur.")


def test_are_you_a_bot_is_answered_honestly_with_a_person_offered(fibrasur):
    replies = _kept_by_the_bot(fibrasur, "How do I pay my bill?", "Are you a bot?")
    assert "virtual assistant (AI)" in replies[0].body and "talk to a person" in replies[0].body
    assert replies[0].meta["intent"] == "about_bot"


def test_a_request_for_a_person_stays_a_request(fibrasur):
    shipped_threshold()
    conv, _replies = conversation(fibrasur, "Are you a robot? I want a person")
    assert conv.status != Status.BOT and conv.handoff["trigger"] == "explicit_request"


def test_the_messages_are_the_configurations(fibrasur):
    cfg = shipped_threshold()
    cfg.messages = {"goodbye": {"en": "Bye from {company}!"}}
    cfg.save()
    _conv, replies = conversation(fibrasur, "How much is the installation?", "bye")
    assert replies[0].body == "Bye from FibraSur!"  # every small-talk message may name the company
    cfg.messages = {"about_bot": {"en": "This is {company}'s assistant. Topics: {topics}."}}
    cfg.save()
    _conv, replies = conversation(fibrasur, "What can you do?")
    assert replies[0].body.startswith("This is FibraSur's assistant. Topics: ") and "Coverage" in replies[0].body


def test_a_chat_left_after_what_can_you_do_is_not_an_answer(fibrasur, settings):
    from apps.agent.reconcile import agent_reconcile

    settings.REPORTS_ASSUMED_IDLE_MINUTES = 30
    shipped_threshold()
    conv, _replies = conversation(fibrasur, "What can you do?")
    assert agent_reconcile(now=timezone.now() + timedelta(minutes=31))["archived_abandoned"] == 1
    conv.refresh_from_db()
    assert conv.status == Status.ARCHIVED and conv.resolution == "bot_abandoned"


def test_a_greeting_before_a_question_is_read_as_the_question():
    pred = ScopePrediction(label=builtin.GREETING, probability=0.5, similarity=0.6, oos_probability=0.1,
                           scope_score=0.6, in_scope=True,
                           probabilities={builtin.GREETING: 0.5, "topic:plans": 0.3, builtin.OOS: 0.1})
    text = "Good morning, how are you? I want to know how much the installation costs"
    read = beyond_smalltalk(pred, text)
    assert read.label == "topic:plans" and read.probability == 0.3
    assert beyond_smalltalk(pred, "Good morning, how are you?").label == builtin.GREETING


def test_smalltalk_by_the_nearest_example():
    from apps.agent.engine import embed
    from apps.agent.smalltalk import smalltalk_class

    def read(text, label="oos"):
        return smalltalk_class(text, embed([text])[0], label, embed)

    assert read("how are you doing today?") == builtin.GREETING
    # an example's own words, even read by the classifier as a greeting (it reads "ok" and "Chau" so)
    assert read("Chau", builtin.GREETING) == builtin.GOODBYE and read("OK!", builtin.GREETING) == builtin.ACKNOWLEDGE
    assert read("is this a robot answering?") == builtin.ABOUT_BOT
    assert read("hey", builtin.GREETING) == builtin.GREETING  # nearer "ok" than any greeting: the classifier's
    assert read("¿Tienen televisión también?", "topic:plans") == ""
    assert read("Is Palihue inside your coverage area?", "topic:coverage") == ""
    assert read("ok and one more thing, how much does the installation cost?") == ""  # not short
    assert read("I don't understand why I was charged twice") == ""  # more than not understanding: it asks
    assert read("who?") == ""  # one word is not asking who answers (0.77 from "who are you?")


@pytest.mark.parametrize("text,names", [
    ("How about Villa Mitre?", ["villa", "mitre"]), ("And in Palihue?", ["palihue"]),
    ("¿Y en Bahía Blanca?", ["bahia", "blanca"]), ("ok, what about Grünbein?", ["grunbein"]),
    ("And how long does it take?", []), ("What about my daughter?", []), ("¿Y cuánto tarda en Rosario?", []),
    ("Do you cover Palihue?", []),
])
def test_the_names_a_follow_up_asks_about_again(text, names):
    assert substituted_names(text) == names


@pytest.mark.parametrize("text,found,not_found", [
    ("How about Villa Mitre?", "Villa Mitre", "no coverage"),
    ("And in Palihue?", "Palihue", "no coverage"),
    ("What about Grünbein?", "Grünbein: second quarter of 2027", "no coverage"),
])
def test_the_conversations_question_asked_of_another_place(fibrasur, text, found, not_found):
    # before: "There is currently no coverage in Punta Alta..." again (0.92, hedged), or a person (Palihue)
    replies = _kept_by_the_bot(fibrasur, "Do you have coverage in Punta Alta?", text)
    assert found in replies[0].body and not_found not in replies[0].body


def test_an_acknowledgement_does_not_give_a_question_a_subject():
    assert names_no_subject("ok, and how long does it take?")
    assert names_no_subject("Perfect. How much does it cost?")
    assert not names_no_subject("ok, how much is the installation?")


def test_the_openai_provider_names_the_small_talk_classes(fibrasur, settings):
    from .standins import StandIn, chat_completion, model_json

    shipped_threshold()
    with StandIn(lambda r: (200, chat_completion(model_json(answer="", confidence=0.0, intent="about_bot")), 0)) as s:
        settings.AGENT_PROVIDER, settings.OPENAI_BASE_URL = "openai", s.url + "/v1"
        settings.OPENAI_API_KEY, settings.OPENAI_MODEL, settings.OPENAI_TIMEOUT = "sk-standin", "stand-in", 3.0
        settings.OPENAI_MAX_RETRIES = 0
        conv, replies = conversation(fibrasur, "Who am I chatting with?")
    assert conv.status == Status.BOT and replies[0].body.startswith("I'm the virtual assistant (AI) of FibraSur.")
    assert '"about_bot"' in s.requests[0]["json"]["messages"][0]["content"]  # the intents the model may give


@pytest.mark.parametrize("first,then,last,expected", [
    # before: "I'm sorry about the trouble. Tell me what is happening..." (read as a vent)
    ("How much is the installation?", "thanks", "No, that's all",
     "Thanks for writing! If you need anything else, write to us here."),
    ("How much is the installation?", "ok", "no", "Thanks for writing! If you need anything else, write to us here."),
    ("¿Cuánto cuesta la instalación?", "listo", "no gracias",
     "¡Gracias por escribirnos! Si necesitás algo más, escribinos por acá."),
    # before: the TV offer, the passage "yes" found (0.78)
    ("How much is the installation?", "thanks", "yes", "Sure, go ahead: what would you like to know?"),
])
def test_the_answer_to_anything_else(fibrasur, first, then, last, expected):
    replies = _kept_by_the_bot(fibrasur, first, then, last)
    assert [r.body for r in replies] == [expected]


def test_a_yes_that_asks_its_own_question_is_answered(fibrasur):
    shipped_threshold()
    conv, replies = conversation(fibrasur, "How much is the installation?", "ok",
                                 "yes, one more question: do you have a static IP?")
    assert "static IP costs $4,500" in replies[0].body


@pytest.mark.parametrize("text,expected", [
    ("no", builtin.GOODBYE), ("No, that's all, thanks!", builtin.GOODBYE), ("nada más, gracias", builtin.GOODBYE),
    ("That's it for now. Bye", builtin.GOODBYE), ("yes", "go_ahead"), ("Sí, otra consulta", "go_ahead"),
    ("yes, do you have a static IP?", ""), ("no, the router still doesn't work", ""), ("no me sirve", ""),
])
def test_answers_to_anything_else(text, expected):
    from apps.agent.policy import answers_anything_else

    assert answers_anything_else(text) == expected


@pytest.mark.parametrize("last,expected", [
    # before: "I'm sorry about the trouble. Tell me what is happening..." (emoji read as a vent)
    ("👍", "Anything else I can help you with?"), ("🙏🏽", "You're welcome! Anything else I can help you with?"),
    ("👋", "Thanks for writing! If you need anything else, write to us here."),
    # before: the opening greeting again (the classifier reads "buenas noches" as a greeting)
    ("Chau, buenas noches", "Thanks for writing! If you need anything else, write to us here."),
    ("ok thanks, bye", "Thanks for writing! If you need anything else, write to us here."),
    # before: "I'm sorry about the trouble..." (a vent), a person, and the about-the-bot reply
    ("I don't understand", "Sorry if I wasn't clear. Tell me in other words what you need, or ask for a person at any "
                           "time."),
    ("can you repeat that?", "Sorry if I wasn't clear. Tell me in other words what you need, or ask for a person at "
                             "any time."),
    ("what?", "Sorry if I wasn't clear. Tell me in other words what you need, or ask for a person at any time."),
])
def test_emoji_farewells_and_not_understanding_after_an_answer(fibrasur, last, expected):
    replies = _kept_by_the_bot(fibrasur, "How much is the installation?", last)
    assert [r.body for r in replies] == [expected]


@pytest.mark.parametrize("text,expected", [
    ("👍", builtin.ACKNOWLEDGE), ("👍🏻👍🏻", builtin.ACKNOWLEDGE), ("❤️", builtin.THANKS), ("👋", builtin.GOODBYE),
    ("😡", ""), ("👍😡", ""), ("ok 👍", ""), ("", ""),
])
def test_emoji_alone(text, expected):
    from apps.agent.smalltalk import emoji_class

    assert emoji_class(text) == expected
