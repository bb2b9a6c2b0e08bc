"""Seed a realistic regional ISP, idempotently. Other apps add their part in ``apps/<app>/demo.py``
(a ``seed(out)`` function), called in order after the core."""
from __future__ import annotations

import random
from datetime import timedelta
from importlib import import_module

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.conversations.models import (AuthorKind, Channel, Contact, ContactIdentity, Conversation,
                                       ConversationEvent, Message, Status)
from apps.departments.models import Department
from apps.departments.names import localized_name
from apps.departments.services import membership_set
from apps.roles.services import roles_ensure, user_set_role

DEMO_PASSWORD = "asiste-demo"
CUSTOMERS = 80_000

DEPARTMENTS = [
    # slug, name, name in Spanish, default
    ("customer-service", "Customer Service", "Atención al Cliente", True),
    ("sales", "Sales", "Ventas", False),
    ("technical-support", "Technical Support", "Soporte Técnico", False),
    ("collections", "Collections", "Cobranzas", False),
    ("cancellations", "Cancellations", "Bajas", False),
]

# username, first name, role, departments, external (night shift)
PEOPLE = [
    ("laura", "Laura Giménez", "operator", [], False),
    ("maria", "María Fernández", "collaborator", ["technical-support"], False),
    ("diego", "Diego Romero", "collaborator", ["technical-support"], False),
    ("sofia", "Sofía Herrera", "collaborator", ["sales"], False),
    ("javier", "Javier Acosta", "collaborator", ["collections"], False),
    ("night.tomas", "Tomás Ruiz", "collaborator", ["technical-support"], True),
    ("night.valentina", "Valentina Sosa", "collaborator", ["customer-service"], True),
    ("night.lucas", "Lucas Medina", "collaborator", ["technical-support", "customer-service"], True),
]

FIRST = ["Ana", "Bruno", "Carla", "Daniel", "Elena", "Facundo", "Gabriela", "Hernán", "Inés", "Julián", "Karen",
         "Lorenzo", "Micaela", "Nicolás", "Olivia", "Pablo", "Rocío", "Santiago", "Tamara", "Ulises", "Victoria",
         "John", "Emily", "Michael", "Sarah"]
LAST = ["García", "Rodríguez", "López", "Martínez", "Pérez", "González", "Sánchez", "Romero", "Díaz", "Álvarez",
        "Torres", "Ruiz", "Castro", "Vega", "Smith", "Johnson"]

SAMPLES = {
    "technical-support": [("es", "No tengo internet desde esta mañana, ya reinicié el router."),
                          ("es", "La luz LOS del módem está en rojo."), ("en", "My connection keeps dropping every evening.")],
    "sales": [("es", "¿Qué planes tienen para Barrio Norte?"), ("en", "Do you have fiber coverage in Villa Centro?")],
    "collections": [("es", "Me llegó la factura con un cargo que no reconozco."), ("en", "How can I pay my invoice by card?")],
    "cancellations": [("es", "Quiero dar de baja el servicio."), ("en", "I'd like to cancel my plan, I'm moving abroad.")],
    "customer-service": [("es", "Quiero cambiar el titular de la cuenta."), ("en", "I need a copy of my contract.")],
}


# Which of the four handoff triggers plausibly sent history chats to each department.
HISTORY_TRIGGERS = {
    "technical-support": ["low_confidence", "explicit_request", "negative_sentiment"],
    "sales": ["explicit_request", "low_confidence"],
    "collections": ["explicit_request", "negative_sentiment"],
    "cancellations": ["out_of_scope", "explicit_request"],
    "customer-service": ["out_of_scope", "negative_sentiment"],
}


# The AI Agent topic (fibrasur.yaml) a history chat of each department was about: slug, name, in Spanish.
HISTORY_TOPICS = {
    "technical-support": ("connectivity", "No internet and equipment", "Sin internet y equipos"),
    "sales": ("plans", "Plans and prices", "Planes y precios"),
    "collections": ("billing", "Billing and payments", "Facturación y pagos"),
    "cancellations": ("cancel-service", "Cancel the service", "Dar de baja el servicio"),
    "customer-service": ("claims", "Claims", "Reclamos"),
}


def log(out, text: str) -> None:
    if out is not None:
        out.write(text)


@transaction.atomic
def seed_core(out=None, *, conversations: int = 300, seed: int = 7) -> dict:
    rng = random.Random(seed)
    roles_ensure()
    depts = {}
    for slug, name, name_es, default in DEPARTMENTS:
        depts[slug], _ = Department.objects.get_or_create(slug=slug, defaults={"name": name, "name_es": name_es,
                                                                               "is_default": default})
    if depts["cancellations"].backup_id is None:
        depts["cancellations"].backup = depts["customer-service"]
        depts["cancellations"].save(update_fields=["backup"])
    User = get_user_model()
    users = {}
    for username, full, role, slugs, external in PEOPLE:
        first, last = full.split(" ", 1)
        user, created = User.objects.get_or_create(username=username, defaults={
            "first_name": first, "last_name": last, "display_name": first, "is_external": external,
            "email": f"{username}@fibrasur.example"})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            user_set_role(user=user, role=role)
            for slug in slugs:
                membership_set(user=user, department=depts[slug], is_senior=not external)
        users[username] = user
    webchat, _ = Channel.objects.get_or_create(kind=Channel.Kind.WEBCHAT, name="fibrasur.example web chat",
                                               defaults={"default_department": depts["customer-service"]})
    whatsapp, _ = Channel.objects.get_or_create(kind=Channel.Kind.WHATSAPP, name="WhatsApp +54 11 5555-0100",
                                                defaults={"default_department": depts["customer-service"]})
    if Contact.objects.count() < CUSTOMERS:
        existing = Contact.objects.count()
        batch = []
        for i in range(existing, CUSTOMERS):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            batch.append(Contact(name=name, external_ref=f"FS-{100000 + i}", phone=f"+54911{40000000 + i}",
                                 is_vip=(i % 97 == 0), language="en" if i % 9 == 0 else "es"))
            if len(batch) == 5000:
                Contact.objects.bulk_create(batch)
                batch = []
                log(out, f"  customers: {i + 1}/{CUSTOMERS}\n")
        Contact.objects.bulk_create(batch)
    if not Conversation.objects.exists():
        _seed_history(rng, depts, users, webchat, whatsapp, conversations)
    return {"departments": depts, "users": users, "webchat": webchat, "whatsapp": whatsapp}


def _seed_history(rng, depts, users, webchat, whatsapp, count):
    """Historical conversations in every state, with messages and a consistent event log."""
    members = {
        "technical-support": ["maria", "diego", "night.tomas", "night.lucas"],
        "sales": ["sofia"], "collections": ["javier"], "cancellations": [],
        "customer-service": ["night.valentina", "night.lucas"],
    }
    contacts = list(Contact.objects.order_by("?")[:count]) if count else []
    now = timezone.now()
    states = ([Status.ARCHIVED] * 6 + [Status.BOT, Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS])
    for i, contact in enumerate(contacts):
        slug = rng.choice(list(SAMPLES))
        lang, text = rng.choice(SAMPLES[slug])
        status = rng.choice(states)
        channel = rng.choice([webchat, whatsapp])
        start = now - timedelta(days=rng.randint(0, 29), minutes=rng.randint(5, 600)) if status == Status.ARCHIVED \
            else now - timedelta(minutes=rng.randint(1, 90))
        bot_only = status == Status.ARCHIVED and rng.random() < 0.55
        dept = None if status == Status.BOT or bot_only else depts[slug]
        who = members[slug]
        assignee = users[rng.choice(who)] if who and status in (Status.ASSIGNED, Status.IN_PROGRESS, Status.ARCHIVED) and not bot_only else None
        if status in (Status.ASSIGNED, Status.IN_PROGRESS) and assignee is None:
            status = Status.UNASSIGNED
        conv = Conversation.objects.create(contact=contact, channel=channel, status=status, department=dept,
                                           assignee=assignee, language=lang)
        t = start
        rows = [Message(conversation=conv, author_kind=AuthorKind.CUSTOMER, body=text, channel=channel)]
        events = [ConversationEvent(conversation=conv, kind="created", actor_kind="customer", to_status="bot")]
        if dept is not None:
            rows.append(Message(conversation=conv, author_kind=AuthorKind.AI_AGENT, channel=channel,
                                body=("Te paso con %s." if lang == "es" else "I'll pass you to %s.")
                                % localized_name(dept, lang)))
            trigger = rng.choice(HISTORY_TRIGGERS[slug])
            events += [ConversationEvent(conversation=conv, kind="handoff", actor_kind="ai_agent", from_status="bot",
                                         to_status="transfer", to_department=dept, reason=trigger,
                                         payload={"trigger": trigger, "intent": HISTORY_TOPICS[slug][0]}),
                       ConversationEvent(conversation=conv, kind="queued", actor_kind="system", from_status="transfer",
                                         to_status="unassigned", to_department=dept, from_department=dept)]
            topic_slug, topic_en, topic_es = HISTORY_TOPICS[slug]
            conv.handoff = {"trigger": trigger, "intent": topic_slug, "topic": topic_slug, "topic_name": topic_es,
                            "topic_names": {"en": topic_en, "es": topic_es}, "language": lang}
            conv.handoff_summary = text
            conv.queued_at = t + timedelta(seconds=40)
        else:
            rows.append(Message(conversation=conv, author_kind=AuthorKind.AI_AGENT, channel=channel,
                                body="Según nuestra base de conocimiento: reiniciá el router 30 segundos." if lang == "es"
                                else "From our knowledge base: restart the router for 30 seconds."))
        if assignee is not None:
            conv.assigned_at = t + timedelta(minutes=rng.randint(1, 6))
            events.append(ConversationEvent(conversation=conv, kind="assigned", actor_kind="system",
                                            from_status="unassigned", to_status="assigned", to_department=dept,
                                            from_department=dept, to_assignee=assignee))
            if status in (Status.IN_PROGRESS, Status.ARCHIVED):
                conv.first_human_reply_at = conv.assigned_at + timedelta(seconds=rng.randint(20, 400))
                rows.append(Message(conversation=conv, author_kind=AuthorKind.HUMAN, author=assignee, channel=channel,
                                    body="Hola, soy %s. Ya reviso tu caso." % assignee.public_name if lang == "es"
                                    else "Hi, I'm %s. Looking into it now." % assignee.public_name))
                events.append(ConversationEvent(conversation=conv, kind="started", actor_kind="human", actor=assignee,
                                                from_status="assigned", to_status="in_progress", to_department=dept,
                                                from_department=dept, from_assignee=assignee, to_assignee=assignee))
        if status == Status.ARCHIVED:
            conv.archived_at = t + timedelta(minutes=rng.randint(8, 50))
            conv.resolution = "resolved" if not bot_only else rng.choice(["bot_confirmed", "bot_assumed"])
            if rng.random() < 0.6:
                conv.csat_score = rng.choices([5, 4, 3, 2, 1], weights=[50, 25, 10, 8, 7])[0]
            events.append(ConversationEvent(conversation=conv, kind="archived",
                                            actor_kind="human" if assignee else "ai_agent", actor=assignee,
                                            from_status="in_progress" if assignee else "bot", to_status="archived",
                                            to_department=dept, from_department=dept, to_assignee=assignee,
                                            from_assignee=assignee, payload={"resolution": conv.resolution}))
            if conv.csat_score is not None:
                events.append(ConversationEvent(conversation=conv, kind="rated", actor_kind="customer",
                                                from_status="archived", to_status="archived", to_department=dept,
                                                from_department=dept, payload={"score": conv.csat_score}))
        conv.last_message_at = conv.last_customer_message_at = t
        if status in (Status.TRANSFER, Status.UNASSIGNED, Status.ASSIGNED) and conv.queued_at:
            conv.waiting_since = conv.queued_at  # nobody answered yet
        conv.save()
        Message.objects.bulk_create(rows)
        ConversationEvent.objects.bulk_create(events)
        # Backdate so history and reports look like a month of operation.
        Conversation.objects.filter(pk=conv.pk).update(created_at=t, updated_at=conv.archived_at or t)
        Message.objects.filter(conversation=conv).update(created_at=t)
        ConversationEvent.objects.filter(conversation=conv).update(created_at=t)


def seed_all(out=None, *, conversations: int = 300) -> None:
    log(out, "Seeding the FibraSur demo operation...\n")
    seed_core(out, conversations=conversations)
    for app in ("knowledge", "agent", "routing", "integrations", "reports", "workspace", "copilot"):
        try:
            module = import_module(f"apps.{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"apps.{app}.demo":
                raise
            continue
        log(out, f"Seeding {app}...\n")
        module.seed(out)
