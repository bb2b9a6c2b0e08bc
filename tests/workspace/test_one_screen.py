"""The one-screen inbox (issue 15): list (preview, real waiting time, unread, labels, sort, filters,
pages), conversation with its timeline, side panel, labels, saved replies, notes and search,
all through the visibility module (404, never 403, for what a user may not see)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Contact, Conversation, Message, Status
from apps.workspace import inbox
from apps.workspace.models import ConversationLabel, Label, SavedReply
from tests.factories import PASSWORD, conversation_in

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def page(user, **params):
    return inbox.conversation_page(user, inbox.filters_from(params))


def ids(result) -> list[int]:
    return [c.pk for c in result["rows"]]


# --- the list ------------------------------------------------------------------------------------

def test_waiting_time_is_real_and_sorts_longest_first(cast):
    old = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    new = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    two_hours = timezone.now() - timedelta(hours=2)
    Conversation.objects.filter(pk=old.pk).update(queued_at=two_hours, waiting_since=two_hours)
    three_minutes = timezone.now() - timedelta(minutes=3)
    Conversation.objects.filter(pk=new.pk).update(queued_at=three_minutes, waiting_since=three_minutes)
    # Touch the old chat: updated_at moves, the waiting time must not.
    Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now())
    rows = page(cast.collab_a, tab="queue")["rows"]
    assert [c.pk for c in rows] == [old.pk, new.pk]
    assert rows[0].waiting_since == two_hours
    newest = ids(page(cast.collab_a, tab="queue", sort="newest"))
    assert set(newest) == {old.pk, new.pk}
    # Rows written without ``waiting_since`` (an older version) fall back to the queue entry.
    Conversation.objects.filter(pk=old.pk).update(waiting_since=None)
    assert page(cast.collab_a, tab="queue")["rows"][0].waiting_since == two_hours


def test_a_chat_requeued_unanswered_keeps_its_wait_and_its_place(cast, client):
    """Nobody answered in time, the chat went back to the queue: the customer has waited since the
    handoff, not since the requeue (``queued_at``, the pick-up timer's key, is new)."""
    neglected = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_ab)
    since = timezone.now() - timedelta(minutes=95)
    Conversation.objects.filter(pk=neglected.pk).update(waiting_since=since, queued_at=since)
    later = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    Conversation.objects.filter(pk=later.pk).update(waiting_since=timezone.now() - timedelta(minutes=20),
                                                    queued_at=timezone.now() - timedelta(minutes=20))
    services.conversation_requeue(conversation=neglected.pk, reason="no human reply")
    neglected.refresh_from_db()
    assert neglected.status == Status.UNASSIGNED and neglected.queued_at > since
    assert neglected.waiting_since == since
    rows = page(cast.collab_a, tab="queue")["rows"]
    assert [c.pk for c in rows] == [neglected.pk, later.pk]
    html = login(client, cast.collab_a).get(reverse("inbox") + "?tab=queue", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = html[html.index(f'id="queue-row-{neglected.pk}"'):].replace("\xa0", " ")
    assert "1 hour, 3" in row[:1500]  # 95 minutes, not the seconds since the requeue
    client.logout()
    login(client, cast.operator)
    listed = client.get(reverse("conversation-list") + "?status=unassigned", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'datetime="{timezone.localtime(since).isoformat()}"' in listed  # the all-conversations list too


def test_waiting_since_follows_who_owes_an_answer(cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conv.refresh_from_db()
    assert conv.waiting_since is not None  # handed to a person's queue
    first = conv.waiting_since
    services.conversation_pickup(conversation=conv.pk, user=cast.collab_a)
    conv.refresh_from_db()
    assert conv.waiting_since == first  # assigned, still unanswered
    services.message_add_note(conversation=conv, user=cast.collab_a, body="mirando")
    conv.refresh_from_db()
    assert conv.waiting_since == first  # a private note answers nobody
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola, ya lo reviso")
    conv.refresh_from_db()
    assert conv.status == Status.IN_PROGRESS and conv.waiting_since is None
    services.message_receive(channel=cast.channel, contact=conv.contact, body="¿Novedades?", conversation=conv)
    conv.refresh_from_db()
    assert conv.waiting_since is not None and conv.waiting_since > first  # waiting again
    services.conversation_archive(conversation=conv.pk, actor=cast.collab_a)
    conv.refresh_from_db()
    assert conv.waiting_since is None


def test_preview_is_the_last_public_message_and_notes_are_not_previewed(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    services.message_receive(channel=cast.channel, contact=cast.customer, body="Se corta cada 5 minutos",
                             conversation=conv)
    services.message_add_note(conversation=conv, user=cast.collab_a, body="secreto del equipo")
    row = page(cast.collab_a, tab="mine")["rows"][0]
    assert row.preview == "Se corta cada 5 minutos" and row.preview_kind == "customer"


def test_pages_of_25_without_counting_the_history(cast, client):
    for _ in range(27):
        conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    first = page(cast.collab_a, tab="queue")
    second = page(cast.collab_a, tab="queue", page="2")
    assert len(first["rows"]) == 25 and first["has_next"] and not first["has_prev"]
    assert len(second["rows"]) == 2 and not second["has_next"] and second["has_prev"]
    assert not set(ids(first)) & set(ids(second))
    html = login(client, cast.collab_a).get(reverse("inbox"), {"tab": "queue"}).content.decode()
    assert 'id="page-next"' in html and "tab=queue&amp;page=2" in html


def test_filters_never_widen_visibility(cast, client):
    a = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    b = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b, contact=cast.other_customer)
    mine = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, assignee=cast.collab_b,
                           contact=Contact.objects.create(name="Otto Second"))  # one open chat per customer
    label = Label.objects.create(name="router")
    ConversationLabel.objects.create(conversation=a, label=label)
    ConversationLabel.objects.create(conversation=b, label=label)
    for params in ({}, {"tab": "queue"}, {"department": str(cast.dept_a.pk)}, {"label": str(label.pk)},
                   {"assignee": str(cast.collab_a.pk)}, {"status": "unassigned"}, {"tab": "archived"},
                   {"q": "Carla"}, {"q": str(a.pk)}):
        assert a.pk not in ids(page(cast.collab_b, **params)), params
    assert set(ids(page(cast.collab_b, label=str(label.pk)))) == {b.pk}
    assert ids(page(cast.collab_b, assignee="me")) == [mine.pk]
    assert set(ids(page(cast.collab_b, assignee="none"))) == {b.pk}
    assert ids(page(cast.collab_b, status="in_progress")) == [mine.pk]
    assert set(ids(page(cast.operator, department=str(cast.dept_a.pk)))) == {a.pk}
    # Nonsense parameters fall back to the defaults, never a server error.
    resp = login(client, cast.collab_b).get(reverse("inbox"), {"tab": "x", "sort": "'", "page": "-3", "label": "a",
                                                               "department": "9" * 30, "status": "nope"})
    assert resp.status_code == 200


def test_one_screen_deep_link_has_list_conversation_and_side_panel(cast, client):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    other = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, contact=cast.other_customer)
    html = login(client, cast.collab_a).get(reverse("conversation-detail", args=[conv.pk]),
                                            {"tab": "open", "sort": "newest"}).content.decode()
    assert f'id="mine-row-{conv.pk}"' in html and f'id="queue-row-{other.pk}"' in html  # the list
    assert 'aria-current="true"' in html and 'id="conv-messages"' in html and 'id="reply-body"' in html
    assert 'id="customer-h"' in html and 'id="history-h"' in html and 'id="copilot-mount"' in html
    assert "sort=newest" in html  # rows and the back link keep the list's filters
    client.logout()
    assert login(client, cast.collab_b).get(reverse("conversation-detail", args=[conv.pk])).status_code == 404


# --- labels --------------------------------------------------------------------------------------

def test_anyone_who_sees_a_chat_labels_it_and_others_get_404(cast, client):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    label = Label.objects.create(name="fibra-cortada", color="red")
    url = reverse("workspace-label-add", args=[conv.pk])
    assert login(client, cast.collab_b).post(url, {"label": label.pk}).status_code == 404
    assert not ConversationLabel.objects.exists()
    client.logout()
    login(client, cast.collab_a)
    assert client.post(url, {"label": label.pk}).status_code == 302
    assert client.post(url, {"label": label.pk}).status_code == 302  # twice: still one
    assert ConversationLabel.objects.filter(conversation=conv, label=label, added_by=cast.collab_a).count() == 1
    html = client.get(reverse("inbox"), {"tab": "queue"}).content.decode()
    assert 'class="chip chip-red">fibra-cortada<' in html
    assert ids(page(cast.collab_a, label=str(label.pk))) == [conv.pk]
    client.post(reverse("workspace-label-remove", args=[conv.pk, label.pk]))
    assert not ConversationLabel.objects.exists()
    assert client.post(url, {"label": "abc"}).status_code == 302  # a bad value: a message, no row, no 500
    assert not ConversationLabel.objects.exists()


def test_label_is_open_follows_archive_and_reopen_in_the_same_transaction(cast):
    """``ConversationLabel.is_open`` (read by the open lists' label filter through a partial index)
    is set when a label is added and follows the status change inside its transaction: archive
    sets it false, reopen true again, and a rolled back archive leaves it as it was."""
    from django.db import transaction

    from apps.workspace import services as ws

    label = Label.objects.create(name="router")
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    done = conversation_in(cast, Status.ARCHIVED, department=cast.dept_a, assignee=cast.collab_a,
                           contact=cast.other_customer)
    ws.label_add(user=cast.collab_a, conversation_id=conv.pk, label_id=label.pk)
    ws.label_add(user=cast.operator, conversation_id=done.pk, label_id=label.pk)
    link = lambda c: ConversationLabel.objects.get(conversation=c, label=label)  # noqa: E731
    assert link(conv).is_open is True and link(done).is_open is False
    assert ids(page(cast.collab_a, label=str(label.pk))) == [conv.pk]
    assert ids(page(cast.collab_a, label=str(label.pk), tab="archived")) == [done.pk]

    with pytest.raises(RuntimeError), transaction.atomic():
        services.conversation_archive(conversation=conv, actor=cast.collab_a)
        assert link(conv).is_open is False  # inside the archive's transaction already
        raise RuntimeError("rolled back")
    assert link(conv).is_open is True and Conversation.objects.get(pk=conv.pk).status == Status.IN_PROGRESS

    services.conversation_archive(conversation=conv, actor=cast.collab_a)
    assert link(conv).is_open is False
    assert ids(page(cast.collab_a, label=str(label.pk))) == []
    assert set(ids(page(cast.collab_a, label=str(label.pk), tab="archived"))) == {conv.pk, done.pk}
    services.conversation_reopen(conversation=done)
    assert link(done).is_open is True and link(conv).is_open is False
    assert ids(page(cast.operator, label=str(label.pk), tab="queue")) == [done.pk]
    assert ids(page(cast.operator, label=str(label.pk), tab="archived")) == [conv.pk]


def test_label_is_open_migration_marks_archived_chats_links(cast):
    """Workspace 0006 fills ``is_open`` for links that existed before it: false for archived chats."""
    from importlib import import_module

    from django.apps import apps as django_apps

    label = Label.objects.create(name="billing")
    open_conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    done = conversation_in(cast, Status.ARCHIVED, department=cast.dept_a, contact=cast.other_customer)
    for conv in (open_conv, done):
        ConversationLabel.objects.create(conversation=conv, label=label)  # as before 0006: all true
    assert ConversationLabel.objects.filter(is_open=True).count() == 2
    import_module("apps.workspace.migrations.0006_label_is_open").fill_is_open(django_apps, None)
    assert ConversationLabel.objects.get(conversation=open_conv).is_open is True
    assert ConversationLabel.objects.get(conversation=done).is_open is False


def test_labels_are_managed_in_the_admin_by_operators(cast, client):
    login(client, cast.operator)
    cast.operator.is_staff = True
    cast.operator.save(update_fields=["is_staff"])
    assert client.get(reverse("admin:workspace_label_changelist")).status_code == 200
    assert client.get(reverse("admin:workspace_savedreply_changelist")).status_code == 200


# --- reply box: notes and saved replies ----------------------------------------------------------

def test_someone_who_sees_but_does_not_own_the_chat_may_leave_a_note_not_a_reply(cast, client):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    login(client, cast.collab_ab)
    url = reverse("conversation-reply", args=[conv.pk])
    assert client.post(url, {"body": "no es mío"}).status_code == 403
    assert client.post(url, {"body": "Ojo: cliente VIP", "is_internal": "1"}, HTTP_HX_REQUEST="true").status_code == 204
    note = Message.objects.get(conversation=conv, body="Ojo: cliente VIP")
    assert note.is_internal and note.author == cast.collab_ab
    assert client.post(url, {"body": "  ", "is_internal": "1"}, HTTP_HX_REQUEST="true").status_code == 422
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()
    assert f'id="msg-{note.pk}"' in html and "msg-internal" in html and 'class="note-tag"' in html


def test_enter_sends_is_wired_by_a_static_script_not_inline(cast, client):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    html = login(client, cast.collab_a).get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert "workspace/inbox.js" in html and " onclick=" not in html and " onkeydown=" not in html
    assert 'id="reply-note"' in html and 'id="shortcuts"' in html
    assert 'hx-post="%s"' % reverse("conversation-reply", args=[conv.pk]) in html


def test_saved_replies_per_department_and_personal_with_variables(cast, client):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    SavedReply.objects.create(title="Reinicio", shortcut="reinicio", department=cast.dept_a,
                              body="Hola {customer_name}, soy {agent_name}. Probemos reiniciar el módem.")
    SavedReply.objects.create(title="Precios", shortcut="precios", department=cast.dept_b, body="Planes de Ventas")
    SavedReply.objects.create(title="Firma", shortcut="firma", owner=cast.collab_a, body="Saludos, {agent_name}")
    SavedReply.objects.create(title="Ajena", shortcut="ajena", owner=cast.collab_b, body="de otro")
    url = reverse("workspace-saved-replies")
    data = login(client, cast.collab_a).get(url, {"conversation": conv.pk}).json()["replies"]
    assert [r["shortcut"] for r in data] == ["firma", "reinicio"]
    assert data[1]["text"] == "Hola Carla Customer, soy Collab_A. Probemos reiniciar el módem."
    assert [r["shortcut"] for r in client.get(url, {"conversation": conv.pk, "q": "rein"}).json()["replies"]] == ["reinicio"]
    client.logout()
    assert login(client, cast.collab_b).get(url, {"conversation": conv.pk}).status_code == 404


def test_personal_saved_replies_are_managed_by_their_owner(cast, client):
    login(client, cast.collab_a)
    url = reverse("workspace-saved-replies-manage")
    assert client.get(url).status_code == 200
    assert client.post(url, {"title": "Firma", "shortcut": "firma", "body": "Saludos"}).status_code == 302
    reply = SavedReply.objects.get(owner=cast.collab_a)
    assert client.post(url, {"title": "", "body": ""}).status_code == 302 and SavedReply.objects.count() == 1
    client.logout()
    login(client, cast.collab_b).post(url, {"delete": reply.pk})
    assert SavedReply.objects.filter(pk=reply.pk).exists()  # someone else's: not found, not deleted
    client.logout()
    html = login(client, cast.collab_a).get(url).content.decode()
    assert "/firma" in html and f'id="saved-delete-{reply.pk}"' in html
    client.post(url, {"delete": reply.pk})
    assert not SavedReply.objects.exists()


# --- timeline ------------------------------------------------------------------------------------

def test_timeline_shows_events_between_messages_in_the_readers_language(cast, client):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    services.conversation_pickup(conversation=conv, user=cast.collab_a)
    services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.collab_a,
                                   reason="Es de ventas")
    login(client, cast.operator)
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk]),
                      HTTP_ACCEPT_LANGUAGE="en").content.decode()
    kinds = [k for k in ("handoff", "queued", "picked_up", "transferred") if f'data-event-kind="{k}"' in html]
    assert kinds == ["handoff", "queued", "picked_up", "transferred"]
    assert html.index('data-event-kind="handoff"') > html.index("Hola, necesito ayuda")  # after the message
    assert "The AI Agent handed the chat to Technical Support (the customer asked for a person)." in html
    assert "Collab_A transferred the chat from Technical Support to Sales." in html and "(Es de ventas)" in html
    cast.operator.language = "es"
    cast.operator.save()
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk]),
                      HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Collab_A transfirió el chat de Technical Support a Sales." in html


# --- search --------------------------------------------------------------------------------------

def test_search_finds_message_text_and_customer_fields_with_highlights(cast, client):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, text="Las luces del router parpadean en rojo")
    other = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, contact=cast.other_customer,
                            text="Quiero cambiar de plan")
    cast.other_customer.email = "otto@example.com"
    cast.other_customer.save()
    found = page(cast.collab_a, q="router")
    assert ids(found) == [conv.pk]
    assert "<mark>router</mark>" in found["rows"][0].snippet
    assert ids(page(cast.collab_a, q="ROUTER rojo")) == [conv.pk]  # every word, any case
    assert ids(page(cast.collab_a, q="rout")) == [conv.pk]  # prefix
    assert ids(page(cast.collab_a, q="otto@example")) == [other.pk]
    assert ids(page(cast.collab_a, q="nada-de-esto")) == []
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, text="<b>router</b> roto")
    html = login(client, cast.collab_a).get(reverse("inbox"), {"q": "router roto"}).content.decode()
    assert "&lt;b&gt;<mark>router</mark>&lt;/b&gt; <mark>roto</mark>" in html  # customer text stays text
    assert "&lt;i&gt;" in client.get(reverse("inbox"), {"q": "<i>"}).content.decode()


def test_search_never_returns_a_chat_the_user_may_not_see(cast):
    hidden = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, text="router sin luz")
    archived_other = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a,
                                     text="router quemado")
    services.conversation_archive(conversation=archived_other, actor=cast.collab_a)
    for tab in inbox.TABS:
        assert ids(page(cast.collab_b, tab=tab, q="router")) == []
        assert ids(page(cast.outsider, tab=tab, q="router")) == []
    assert ids(page(cast.collab_a, q="router")) == [hidden.pk]
    assert ids(page(cast.collab_a, tab="archived", q="quemado")) == [archived_other.pk]


# --- at scale: same rows, fewer reads (issue 15, bench/inbox.py) ----------------------------------

def test_visibility_narrowed_by_status_is_the_same_as_filtering_after(cast):
    """``conversations_visible_to(user, "view", statuses=...)`` pushes the status into each branch of
    the visibility union; it must return exactly the rows of filtering the full set afterwards."""
    from apps.conversations import access
    from apps.conversations.models import ACTIVE_HUMAN_STATUSES, HUMAN_STATUSES, ConversationShare

    convs = [conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a),
             conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a),
             conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, assignee=cast.collab_b,
                             contact=cast.other_customer)]
    archived = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, assignee=cast.collab_a,
                               contact=Contact.objects.create(name="History"))
    Conversation.objects.filter(pk=archived.pk).update(status=Status.ARCHIVED)
    ConversationShare.objects.create(conversation=convs[2], user=cast.collab_a)
    for user in (cast.collab_a, cast.collab_b, cast.operator):
        for statuses in (HUMAN_STATUSES, ACTIVE_HUMAN_STATUSES, [Status.ARCHIVED], [Status.UNASSIGNED]):
            narrowed = set(access.conversations_visible_to(user, "view", statuses=statuses).values_list("pk", flat=True))
            after = set(access.conversations_visible_to(user, "view").filter(status__in=statuses)
                        .values_list("pk", flat=True))
            assert narrowed == after, (user.username, statuses)
    assert archived.pk in set(access.conversations_visible_to(cast.collab_a, "view", statuses=[Status.ARCHIVED])
                              .values_list("pk", flat=True))
    with pytest.raises(ValueError):
        access.conversations_visible_to(cast.collab_a, "pickup", statuses=HUMAN_STATUSES)


def test_tab_counts_are_one_query_and_match_the_lists(cast, django_assert_num_queries):
    for _ in range(3):
        conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b, contact=cast.other_customer)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a,
                    contact=Contact.objects.create(name="Mine"))
    for user, expected in ((cast.collab_a, {"mine": 1, "queue": 3}), (cast.collab_b, {"mine": 0, "queue": 1}),
                           (cast.operator, {"mine": 0, "queue": 4})):
        user = type(user).objects.get(pk=user.pk)
        inbox.tab_counts(user)  # permission caches warm: what is counted below is the counts alone
        with django_assert_num_queries(1):
            counts = inbox.tab_counts(user)
        assert counts == expected, user.username
        assert counts["queue"] == len(ids(page(user, tab="queue")))


def test_tab_counts_stop_at_the_cap_and_say_so_in_both_languages(cast, client, monkeypatch):
    """A tab counts up to ``TAB_COUNT_CAP`` and shows "99+" beyond it (the count reads at most
    the cap + 1 rows, so it costs the same at any queue length): exact below, "N+" above, with
    the meaning in words as its title, in the reader's language."""
    monkeypatch.setattr(inbox, "TAB_COUNT_CAP", 2)
    for _ in range(2):
        conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    login(client, cast.collab_a)
    html = client.get(reverse("inbox")).content.decode()
    assert inbox.tab_counts(cast.collab_a)["queue"] == 2 and '<span class="count">2</span>' in html
    for _ in range(2):
        conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    assert inbox.tab_counts(cast.collab_a) == {"mine": 0, "queue": 3}  # "more than 2", not 4
    english = client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="count" title="More than 2 conversations">2+</span>' in english
    spanish = client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<span class="count" title="Más de 2 conversaciones">2+</span>' in spanish
    assert len(ids(page(cast.collab_a, tab="queue"))) == 4  # the list itself is not capped


def test_list_rows_escape_everything_people_typed(cast, client):
    """The rows are built in Python (apps/workspace/rows.py), not by an autoescaping template: a
    customer's name and message, a label and a department name with markup stay text."""
    evil = Contact.objects.create(name='<img src=x onerror="alert(1)">', language="es")
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, contact=evil,
                           text="<script>alert('m')</script> hola")
    label = Label.objects.create(name="<i>vip</i>", color="red")
    ConversationLabel.objects.create(conversation=conv, label=label)
    type(cast.dept_a).objects.filter(pk=cast.dept_a.pk).update(name_es='<b onclick="x">Soporte</b>',
                                                                name_en='<b onclick="x">Support</b>')
    html = login(client, cast.collab_a).get(reverse("inbox"), {"tab": "queue"}).content.decode()
    assert f'id="queue-row-{conv.pk}"' in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;m&#x27;)&lt;/script&gt; hola" in html and "<script>alert" not in html
    assert '<span class="chip chip-red">&lt;i&gt;vip&lt;/i&gt;</span>' in html
    assert "&lt;b onclick=&quot;x&quot;&gt;" in html and '<b onclick="x">' not in html


# --- compiled list queries (apps/core/sqlcache.py) ------------------------------------------------

def test_compiled_query_is_built_once_and_bound_to_new_values(cast):
    from apps.core import sqlcache

    first = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    second = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, contact=cast.other_customer,
                             assignee=cast.collab_b)
    built = []

    def build(*pks):
        built.append(pks)
        return Conversation.objects.filter(pk__in=pks).order_by("pk").values_list("pk", "status", "created_at")

    key = ("test-compiled", "status and created_at by id")
    one = sqlcache.rows(key, build, first.pk)
    other = sqlcache.rows(key, build, second.pk)
    assert [r[:2] for r in one] == [(first.pk, Status.UNASSIGNED)]
    assert [r[:2] for r in other] == [(second.pk, Status.IN_PROGRESS)]
    assert other[0][2] == Conversation.objects.get(pk=second.pk).created_at  # the ORM's converters: an aware datetime
    assert len(built) == 1  # compiled once, the second call only bound its value
    assert sqlcache.rows(key, build, first.pk, second.pk) == [one[0], other[0]] and len(built) == 2


def test_repeated_list_follows_a_department_taken_away(cast, client):
    """The list's SQL is compiled once per visibility (access.visibility_key): losing a department
    between two requests of the same page must take its chats off the second one."""
    from apps.departments.models import Membership
    from apps.departments.services import membership_remove

    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    login(client, cast.collab_a)
    for _ in range(2):
        html = client.get(reverse("inbox"), {"tab": "queue"}).content.decode()
        assert f'id="queue-row-{conv.pk}"' in html and 'class="count">1<' in html
    membership_remove(membership=Membership.objects.get(user=cast.collab_a, department=cast.dept_a))
    html = client.get(reverse("inbox"), {"tab": "queue"}).content.decode()
    assert f'id="queue-row-{conv.pk}"' not in html and 'class="count">1<' not in html
    assert f'<option value="{cast.dept_a.pk}"' not in html  # nor in the department menu


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side prepared statements: PostgreSQL only")
def test_compiled_query_is_prepared_from_its_second_run_with_its_fixed_values_quoted(cast):
    """From its second run on a connection a compiled query is a prepared statement, the values
    fixed by its key written in as literals (a quote and a percent sign among them) and the
    changing ones bound: every run returns what the ORM returns."""
    from apps.core import sqlcache

    first = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    second = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, contact=cast.other_customer,
                             assignee=cast.collab_b)
    Conversation.objects.filter(pk=second.pk).update(subject="50% off, it's")

    def build(*pks):
        return (Conversation.objects.filter(Q(pk__in=pks) | Q(subject__contains="0% off, it'"))
                .order_by("pk").values_list("pk", "subject", "created_at"))

    key = ("test-prepared", "by id or subject")
    with CaptureQueriesContext(connection) as log:
        runs = [sqlcache.rows(key, build, pk) for pk in (first.pk, second.pk, first.pk)]
    assert len(log.captured_queries) == 3 and all("conversations_conversation" in q["sql"] for q in log.captured_queries)
    for rows, pk in zip(runs, (first.pk, second.pk, first.pk)):
        assert rows == [tuple(r) for r in build(pk)]
    assert [r[0] for r in runs[2]] == [first.pk, second.pk]
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%0%% off, it''%"])
        statements = [s for (s,) in cur.fetchall()]
    assert statements and "$1" in statements[0]  # the id bound, the subject written in
