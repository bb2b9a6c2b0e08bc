"""AI Agent configuration (topics, thresholds, transfer rules) and its per-conversation memory.

Configuration is edited by Operators in the admin or loaded with ``manage.py agent_config import``.
The agent never writes conversation status/department: it calls ``apps.conversations.services``.
"""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

TRIGGERS = ("low_confidence", "negative_sentiment", "out_of_scope", "explicit_request")
ACTIONS = (("", _("None")), ("invoice_status", _("Invoice status")), ("order_status", _("Order status")),
           ("ticket_status", _("Ticket status")))

# Default customer-facing texts, per language. Operators override any of them in AgentSettings.messages
# ({"handoff": {"en": "...", "es": "..."}}); placeholders are filled with str.format.
DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "handoff": {"en": "I'll pass you to our {department} team. A person will continue this conversation here.",
                "es": "Te paso con el equipo de {department}. Una persona va a seguir esta conversación por acá."},
    "handoff_assignee": {"en": "I'll pass you to {person}, from {department}.",
                         "es": "Te paso con {person}, de {department}."},
    "collect_invalid": {"en": "That doesn't look right. {prompt}",
                        "es": "Eso no parece correcto. {prompt}"},
    "collect_question": {"en": "I can't answer that here, but the {department} team will see your message. {prompt}",
                         "es": "Eso no lo puedo responder por acá, pero el equipo de {department} va a ver tu mensaje. "
                               "{prompt}"},
    "greeting": {"en": "Hi! I'm the virtual assistant (AI). How can I help you?",
                 "es": "¡Hola! Soy el asistente virtual (IA). ¿En qué te puedo ayudar?"},
    "thanks": {"en": "You're welcome! Anything else I can help you with?",
               "es": "¡De nada! ¿Te puedo ayudar con algo más?"},
    "acknowledge": {"en": "Anything else I can help you with?", "es": "¿Te puedo ayudar con algo más?"},
    "not_understood": {"en": "Sorry if I wasn't clear. Tell me in other words what you need, or ask for a person "
                             "at any time.",
                       "es": "Perdón si no fui claro. Contame con otras palabras qué necesitás, o pedí hablar con "
                             "una persona cuando quieras."},
    "go_ahead": {"en": "Sure, go ahead: what would you like to know?", "es": "¡Claro! ¿Qué querés saber?"},
    "goodbye": {"en": "Thanks for writing! If you need anything else, write to us here.",
                "es": "¡Gracias por escribirnos! Si necesitás algo más, escribinos por acá."},
    # {company}: the configuration's company name; {topics}: what the bot answers, in the customer's language
    "about_bot": {"en": "I'm the virtual assistant (AI) of {company}. I answer from our help pages about: {topics}. "
                        "If you'd rather talk to a person, just tell me.",
                  "es": "Soy el asistente virtual (IA) de {company}. Respondo con nuestras páginas de ayuda sobre: "
                        "{topics}. Si preferís hablar con una persona, decímelo."},
    "about_bot_no_topics": {"en": "I'm the virtual assistant (AI) of {company}. Tell me what you need; if you'd "
                                  "rather talk to a person, just tell me.",
                            "es": "Soy el asistente virtual (IA) de {company}. Contame qué necesitás; si preferís "
                                  "hablar con una persona, decímelo."},
    "empathy_ask": {"en": "I'm sorry about the trouble. Tell me what is happening and I'll help you; "
                           "you can also ask for a person at any time.",
                    "es": "Lamento el inconveniente. Contame qué está pasando y te ayudo; también podés pedir "
                          "hablar con una persona cuando quieras."},
    "empathy_question": {"en": "I'm sorry about the trouble. I couldn't find a sure answer to that in our help "
                                "pages. Tell me a bit more and I'll try again, or ask for a person at any time.",
                         "es": "Lamento el inconveniente. No encontré una respuesta segura a eso en nuestras "
                               "páginas de ayuda. Contame un poco más y lo intento de nuevo, o pedí hablar con una "
                               "persona cuando quieras."},
    "hedge": {"en": "I'm not sure this is exactly what you asked. If it isn't, tell me and I'll pass you to a person.",
              "es": "No estoy seguro de que esto sea justo lo que preguntaste. Si no lo es, decímelo y te paso con "
                    "una persona."},
    "empathy": {"en": "I'm sorry about the trouble.", "es": "Lamento el inconveniente."},
    "clarify": {"en": "Sure, I can help. What exactly would you like to know? Tell me in a few words what it is about.",
                "es": "Claro, te ayudo. ¿Qué querés saber exactamente? Contame en pocas palabras de qué se trata."},
    "context_ask": {"en": "Got it. How can I help you with that?",
                    "es": "Entendido. ¿En qué te puedo ayudar con eso?"},
    "agent_error": {"en": "I'm having a technical problem, so I'll pass you to a person from {department}.",
                    "es": "Tengo un problema técnico, así que te paso con una persona de {department}."},
    "not_identified": {"en": "I couldn't identify your account in this chat, so I can't look that up for you.",
                       "es": "No pude identificar tu cuenta en este chat, así que no puedo consultarlo."},
}


class Topic(models.Model):
    """An intent the AI Agent recognises, what it may use to answer and where it transfers."""

    name = models.CharField(_("name"), max_length=120)
    # What staff read per language (apps.departments.names.localized_name); empty: the name above.
    name_es = models.CharField(_("name in Spanish"), max_length=120, blank=True)
    name_en = models.CharField(_("name in English"), max_length=120, blank=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    description = models.TextField(_("description"), blank=True)
    bot_may_answer = models.BooleanField(
        _("the AI Agent may answer"), default=True,
        help_text=_("Off: questions of this topic are always handed to the topic's department."))
    department = models.ForeignKey("departments.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="agent_topics", verbose_name=_("transfers to"),
                                   help_text=_("Empty: the default department."))
    documents = models.ManyToManyField("knowledge.Document", blank=True, related_name="agent_topics",
                                       verbose_name=_("knowledge base documents"),
                                       help_text=_("Empty: any document of the knowledge base."))
    document_refs = models.JSONField(
        _("documents by title or path"), default=list, blank=True,
        help_text=_("Titles or source paths of documents this topic may use; resolved when they are ingested "
                    "(so a configuration can be imported before its knowledge base)."))
    answers_from_kb = models.BooleanField(
        _("answered from the knowledge base"), default=True,
        help_text=_("Off: no document answers this topic, so the AI Agent always hands it off "
                    "(documents: [] in the configuration file)."))
    action = models.CharField(_("backend action"), max_length=30, blank=True, choices=ACTIONS,
                              help_text=_("A CRM lookup the AI Agent runs for the identified customer only."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        from apps.departments.names import localized_name  # in the reader's language

        return localized_name(self)


class TopicExample(models.Model):
    """An example customer utterance of a topic (the classifier learns from these)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="examples")
    text = models.CharField(_("utterance"), max_length=500)
    language = models.CharField(_("language"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("example utterance")
        verbose_name_plural = _("example utterances")

    def __str__(self) -> str:
        return self.text


class TopicField(models.Model):
    """A piece of data the AI Agent collects before handing off this topic (e.g. the account number)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="required_fields")
    key = models.SlugField(_("key"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    prompt_en = models.CharField(_("question (English)"), max_length=300)
    prompt_es = models.CharField(_("question (Spanish)"), max_length=300)
    pattern = models.CharField(_("validation (regular expression)"), max_length=300, blank=True,
                               help_text=_("The answer must contain a match (the match is kept); empty accepts any answer."))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("data to collect")
        verbose_name_plural = _("data to collect before the handoff")
        constraints = [models.UniqueConstraint(fields=["topic", "key"], name="unique_topic_field_key")]

    def clean(self):
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValidationError({"pattern": _("Not a valid regular expression: %(e)s") % {"e": exc}})

    def prompt(self, language: str) -> str:
        return self.prompt_es if language == "es" else self.prompt_en

    def __str__(self) -> str:
        return self.label


class TransferRule(models.Model):
    """Where a handoff goes. The first active rule (by order) matching the topic and/or trigger wins;
    with no match: the topic's department, else the default department."""

    order = models.PositiveIntegerField(_("order"), default=0)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.CASCADE, related_name="rules",
                              verbose_name=_("topic"), help_text=_("Empty: any topic."))
    trigger = models.CharField(_("trigger"), max_length=30, blank=True,
                               choices=[("", _("Any"))] + [(t, t) for t in TRIGGERS + ("agent_error",)])
    language = models.CharField(_("customer language"), max_length=10, blank=True,
                                help_text=_("Empty: any language."))
    department = models.ForeignKey("departments.Department", on_delete=models.CASCADE, related_name="+",
                                   verbose_name=_("department"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("transfer rule")
        verbose_name_plural = _("transfer rules")

    def matches(self, *, topic_id: int | None, trigger: str, language: str) -> bool:
        return (self.is_active and (self.topic_id is None or self.topic_id == topic_id)
                and (not self.trigger or self.trigger == trigger)
                and (not self.language or self.language == language))

    def __str__(self) -> str:
        return f"{self.topic or '*'} / {self.trigger or '*'} -> {self.department}"


class AgentSettings(models.Model):
    """The singleton with every threshold and message (row pk=1; use ``AgentSettings.load()``)."""

    company_name = models.CharField(
        _("company name"), max_length=120, blank=True,
        help_text=_("How the AI Agent names the business to customers and to the language model."))
    # The shipped default: the calibrated P(the answer holds its facts) at which answering beats a
    # handoff when a wrong answer costs 3 needless handoffs (apps/agent/README.md, "Answer confidence");
    # the verifier is calibrated on held-out businesses, so a new business needs no labels.
    confidence_threshold = models.FloatField(
        _("minimum answer confidence"), default=0.75,
        help_text=_("Calibrated probability that the answer holds what was asked; below it the AI Agent does "
                    "not answer and hands off (trigger low_confidence)."))
    out_of_scope_threshold = models.FloatField(
        _("out-of-scope threshold"), default=0.5,
        help_text=_("Scope score below this means the message is outside every topic (trigger out_of_scope)."))
    explicit_request_threshold = models.FloatField(
        _("explicit request threshold"), default=0.5,
        help_text=_("Probability of 'wants a human' above this hands off at once (trigger explicit_request)."))
    sentiment_threshold = models.FloatField(
        _("negative sentiment threshold"), default=0.5,
        help_text=_("A customer message scoring at or below this counts as frustrated. The score runs from -1 "
                    "(frustrated) to 1 (calm): 1 - 2 x the message's frustration probability."))
    sentiment_window = models.PositiveSmallIntegerField(
        _("sentiment window"), default=3, help_text=_("How many recent customer messages are looked at."))
    sentiment_min_negative = models.PositiveSmallIntegerField(
        _("negative messages needed"), default=3,
        help_text=_("How many negative messages within the window make sustained negative sentiment."))
    collect_max_attempts = models.PositiveSmallIntegerField(
        _("attempts to collect each datum"), default=2)
    default_department = models.ForeignKey(
        "departments.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("default department for handoffs"),
        help_text=_("Empty: the platform's default department."))
    messages = models.JSONField(_("messages"), default=dict, blank=True,
                                help_text=_('Overrides of the customer-facing texts: {"handoff": {"en": "...", "es": "..."}}'))
    out_of_scope_examples = models.JSONField(
        _("out-of-scope examples"), default=dict, blank=True,
        help_text=_('This business\'s own examples of requests outside its topics: {"mode": "extend" or "replace", '
                    '"examples": ["...", "..."]}. "replace" drops the built-in ones.'))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("AI Agent settings")
        verbose_name_plural = _("AI Agent settings")

    def __str__(self) -> str:
        return str(_("AI Agent settings"))

    def clean(self):
        """The same limits as ``agent_config import`` (``apps.agent.config.THRESHOLDS``), so the
        admin cannot save what an import would refuse."""
        from .config import THRESHOLDS

        errors: dict[str, ValidationError] = {}
        for name, (_kind, low, high) in THRESHOLDS.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                errors[name] = ValidationError(_("Must be from %(low)s to %(high)s."), code="range",
                                               params={"low": low, "high": high})
        window, needed = self.sentiment_window, self.sentiment_min_negative
        if not errors.keys() & {"sentiment_window", "sentiment_min_negative"} and window is not None \
                and needed is not None and needed > window:
            errors["sentiment_min_negative"] = ValidationError(
                _("Cannot be more than the sentiment window (%(window)s)."), code="window", params={"window": window})
        messages = self.messages or {}
        if not isinstance(messages, dict) or not all(
                isinstance(texts, dict) and all(isinstance(v, (str, dict)) for v in texts.values())
                for texts in messages.values()):
            errors["messages"] = ValidationError(
                _('Must map each message to its texts per language: {"handoff": {"en": "...", "es": "..."}}.'),
                code="messages")
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "AgentSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    def message(self, key: str, language: str, **values) -> str:
        lang = "es" if language == "es" else "en"
        texts = {**DEFAULT_MESSAGES.get(key, {}), **(self.messages or {}).get(key, {})}
        template = texts.get(lang) or texts.get("en") or ""
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return DEFAULT_MESSAGES.get(key, {}).get(lang, "").format(**values)


class AgentState(models.Model):
    """The agent's memory of one conversation: sentiment history and data collection in progress.

    Owned by the agent (not a lifecycle field), so it may be written here directly.
    """

    conversation = models.OneToOneField("conversations.Conversation", on_delete=models.CASCADE,
                                        related_name="agent_state")
    sentiments = models.JSONField(default=list, blank=True)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pending = models.JSONField(default=dict, blank=True,
                               help_text=_("A handoff waiting for data: trigger, department, scores, next field."))
    collected = models.JSONField(default=dict, blank=True)
    turns = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("AI Agent conversation state")
        verbose_name_plural = _("AI Agent conversation states")
