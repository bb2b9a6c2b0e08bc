"""Builders for the fixed test cast and conversations in any state (through the services)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from apps.conversations import services
from apps.conversations.models import Channel, Contact, Conversation, Message, Status
from apps.departments.models import Department
from apps.departments.services import membership_set
from apps.roles.services import roles_ensure, user_set_role

PASSWORD = "pw-for-tests-1"


@dataclass
class Cast:
    operator: object
    collab_a: object
    collab_b: object
    collab_ab: object
    outsider: object
    dept_a: Department
    dept_b: Department
    default: Department
    channel: Channel
    customer: Contact
    other_customer: Contact
    extra: dict = field(default_factory=dict)


def make_user(username: str, role: str = "collaborator", departments=(), **perms):
    User = get_user_model()
    user = User.objects.create_user(username=username, password=PASSWORD, first_name=username.title(),
                                    display_name=username.title())
    user_set_role(user=user, role=role)
    for dept in departments:
        membership_set(user=user, department=dept, **perms)
    return user


def make_cast() -> Cast:
    roles_ensure()
    default = Department.objects.create(name="Customer Service", slug="customer-service", is_default=True)
    dept_a = Department.objects.create(name="Technical Support", slug="technical-support")
    dept_b = Department.objects.create(name="Sales", slug="sales")
    channel = Channel.objects.create(name="Web", kind=Channel.Kind.WEBCHAT, default_department=default)
    return Cast(
        operator=make_user("operator", "operator"),
        collab_a=make_user("collab_a", departments=[dept_a]),
        collab_b=make_user("collab_b", departments=[dept_b]),
        collab_ab=make_user("collab_ab", departments=[dept_a, dept_b]),
        outsider=make_user("outsider"),
        dept_a=dept_a, dept_b=dept_b, default=default, channel=channel,
        customer=Contact.objects.create(name="Carla Customer", language="es"),
        other_customer=Contact.objects.create(name="Otto Other", language="en"),
    )


def conversation_in(cast: Cast, status: str, department=None, assignee=None, contact=None,
                    text: str = "Hola, necesito ayuda") -> Conversation:
    """A conversation brought to ``status`` through the real services (events included)."""
    if contact is None:
        contact = cast.customer
        if Conversation.objects.filter(contact=contact, channel=cast.channel).exclude(status=Status.ARCHIVED).exists():
            # One open conversation per customer and channel: another open chat needs another customer.
            contact = Contact.objects.create(name=f"{cast.customer.name} {Contact.objects.count() + 1}",
                                             language=cast.customer.language)
    conv = services.conversation_start(contact=contact, channel=cast.channel, language="es")
    # The customer's first message, stored without starting an agent turn (tests drive the lifecycle).
    Message.objects.create(conversation=conv, author_kind="customer", body=text, channel=cast.channel)
    if status == Status.BOT:
        return Conversation.objects.get(pk=conv.pk)
    department = department or cast.dept_a
    services.conversation_escalate(conversation=conv, department=department, trigger="explicit_request",
                                   summary=text)
    if status == Status.TRANSFER:
        return Conversation.objects.get(pk=conv.pk)
    services.conversation_enqueue(conversation=conv)
    if status == Status.UNASSIGNED:
        return Conversation.objects.get(pk=conv.pk)
    services.conversation_assign(conversation=conv, assignee=assignee or cast.collab_a)
    if status == Status.ASSIGNED:
        return Conversation.objects.get(pk=conv.pk)
    services.message_send_human(conversation=conv, user=assignee or cast.collab_a, body="Hola, te ayudo")
    if status == Status.IN_PROGRESS:
        return Conversation.objects.get(pk=conv.pk)
    services.conversation_archive(conversation=conv, actor=assignee or cast.collab_a)
    return Conversation.objects.get(pk=conv.pk)
