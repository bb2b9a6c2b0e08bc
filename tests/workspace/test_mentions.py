"""@mentions in private notes: parsed on the server, notified only to people who may see the chat
(the writer told about the others), once per person and never to the writer, rendered escaped,
offered by a suggestion endpoint that follows visibility, and never sent to the customer."""
from __future__ import annotations

import json

import pytest
from django.urls import reverse

from apps.conversations import services
from apps.conversations.mentions import mention_usernames
from apps.conversations.models import Message, Status
from apps.routing.models import Notification
from tests.factories import conversation_in, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the operation's default is Spanish
    return client


# --- parsing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, names", [
    ("@collab_a please look", ["collab_a"]),
    ("Could @collab_a check the router?", ["collab_a"]),
    ("Ask @collab_a, then @operator.", ["collab_a", "operator"]),
    ("(@collab_a) and @collab_a again and @COLLAB_A", ["collab_a"]),
    ("Mail ana@example.com or soporte@collab_a.com", []),
    ("Line one\n@collab_ab: yours", ["collab_ab"]),
    ("no mention @ here, nor @", []),
])
def test_mention_usernames(text, names):
    assert mention_usernames(text) == names


def note(conv, user, body):
    return services.message_add_note(conversation=conv, user=user, body=body)


def notices(user=None):
    qs = Notification.objects.filter(kind="mention")
    return list(qs.filter(user=user) if user else qs)


# --- notifications -------------------------------------------------------------------------------

def test_a_visible_colleague_is_notified_with_a_link_and_a_live_signal(cast, monkeypatch,
                                                                        django_capture_on_commit_callbacks):
    from apps.core import realtime

    sent = []
    monkeypatch.setattr(realtime, "_send", lambda groups, event: sent.append((groups, event)))
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    with django_capture_on_commit_callbacks(execute=True):
        msg = note(conv, cast.operator, "@collab_a can you check the router logs?")
    [n] = notices()
    assert (n.user, n.conversation_id, n.read_at) == (cast.collab_a, conv.pk, None)
    assert f"#{conv.pk}" in n.text and "Operator" in n.text
    assert msg.meta["mentions"] == [{"id": cast.collab_a.pk, "username": "collab_a", "name": "Collab_A"}]
    assert ([f"user.{cast.collab_a.pk}"], {"what": "notification"}) in sent  # a signal, no text
    # Their list shows it and links to the chat, which they may open.
    from django.test import Client

    client = Client()
    client.force_login(cast.collab_a)
    page = client.get(reverse("routing-notifications")).content.decode()
    assert f'href="{reverse("conversation-detail", args=[conv.pk])}"' in page and n.text in page
    badge = client.get(reverse("routing-notifications") + "?badge=1").content.decode()
    assert 'id="nav-notifications-count">1' in badge


def test_the_notice_is_in_the_mentioned_persons_language(cast):
    cast.collab_a.language = "es"
    cast.collab_a.save(update_fields=["language"])
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    note(conv, cast.operator, "@collab_a mira esto")
    assert "te mencionó" in notices(cast.collab_a)[0].text


def test_someone_who_cannot_see_the_chat_is_not_notified_and_the_writer_is_told(client, cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    msg = note(conv, cast.collab_a, "@collab_b @outsider @collab_ab what do you think?")
    assert [n.user for n in notices()] == [cast.collab_ab]
    assert [p["username"] for p in msg.meta["mentions_unseen"]] == ["collab_b", "outsider"]
    client.force_login(cast.collab_a)
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()
    assert "Collab_B cannot see this conversation; not notified." in html
    assert '<span class="mention">@collab_b</span>' not in html  # not marked as a mention
    # Only the writer reads that line; a colleague sees the note and who was mentioned.
    client.force_login(cast.collab_ab)
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()
    assert "cannot see this conversation" not in html and "Collab_Ab" in html
    # A plain form post (no htmx) says it as a flash too.
    client.force_login(cast.collab_a)
    page = client.post(reverse("conversation-reply", args=[conv.pk]), {"body": "cc @collab_b", "is_internal": "1"},
                       follow=True).content.decode()
    assert "Collab_B cannot see this conversation; not notified." in page
    assert not Notification.objects.filter(user=cast.collab_b).exists()


def test_no_notice_for_yourself_nor_twice_for_the_same_person(cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    msg = note(conv, cast.collab_a, "@collab_a note to self; @operator and again @Operator, @operator.")
    assert [n.user for n in notices()] == [cast.operator]
    assert [p["username"] for p in msg.meta["mentions"]] == ["collab_a", "operator"]


def test_unknown_and_inactive_users_are_ignored(cast):
    ghost = make_user("ghost", "operator")
    ghost.is_active = False
    ghost.save(update_fields=["is_active"])
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    msg = note(conv, cast.collab_a, "@nobody_here and @ghost")
    assert notices() == [] and msg.meta == {}


def test_a_reply_to_the_customer_notifies_nobody_and_a_note_never_reaches_the_customer(cast, client):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Thanks @operator")  # to the customer
    assert notices() == []
    msg = note(conv, cast.collab_a, "@operator secret plan")
    assert msg.is_internal and notices()[0].user == cast.operator
    # The widget's view of the chat (non-internal messages only) holds no mention.
    assert not Message.objects.filter(conversation=conv, is_internal=False, body__contains="secret").exists()


# --- rendering -------------------------------------------------------------------------------------

def test_mentions_are_marked_and_the_rest_escaped(client, cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    note(conv, cast.operator, '<script>alert(1)</script> @collab_a, look <b>here</b> @ghost\nbye')
    client.force_login(cast.collab_a)
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<span class="mention">@collab_a</span>,' in html and "&lt;b&gt;here&lt;/b&gt; @ghost<br>bye" in html
    assert "Mentioned:" in html


def test_a_username_with_markup_cannot_inject_through_the_mention(client, cast):
    make_user("x<img>", "operator")  # usernames are validated by forms, not by the model
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    note(conv, cast.operator, "@x<img> hi")
    client.force_login(cast.operator)
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()
    assert "<img>" not in html.split('id="msg-')[-1]


# --- the "@" menu ------------------------------------------------------------------------------------

def suggestions(client, user, conv, q=""):
    client.force_login(user)
    return client.get(reverse("workspace-mention-suggestions", args=[conv.pk]), {"q": q})


def test_suggestions_list_only_people_who_can_see_the_chat(client, cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    r = suggestions(client, cast.collab_a, conv)
    assert r.status_code == 200
    names = [p["username"] for p in json.loads(r.content)["people"]]
    assert names == ["collab_ab", "operator"]  # not collab_b (Sales), the outsider, nor the asker
    names = [p["username"] for p in json.loads(suggestions(client, cast.operator, conv, "COLL").content)["people"]]
    assert names == ["collab_a", "collab_ab"]


def test_suggestions_are_404_for_a_chat_the_asker_cannot_see(client, cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    assert suggestions(client, cast.collab_b, conv).status_code == 404
    assert suggestions(client, cast.outsider, conv).status_code == 404


def test_the_composer_offers_the_mention_menu(client, cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    client.force_login(cast.collab_a)
    html = client.get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert f'data-mentions="{reverse("workspace-mention-suggestions", args=[conv.pk])}"' in html
    assert 'role="listbox"' in html and 'aria-controls="saved-menu"' in html
    assert 'data-mentions-label="Colleagues who can see this conversation"' in html
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    html = client.get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert "menciona a un colega" in html


def test_an_internal_message_through_the_api_path_notifies_too(cast):
    """The integrators' API writes internal messages with ``message_send_human(is_internal=True)``."""
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="@operator @collab_b fyi",
                                      is_internal=True)
    assert [n.user for n in notices()] == [cast.operator]
    assert [p["username"] for p in msg.meta["mentions_unseen"]] == ["collab_b"]


def test_opening_the_chat_reads_its_notices_and_only_those(client, cast):
    """The mention (and any other notice about that chat) is read once the colleague opens the chat;
    notices about other chats, and other people's notices, stay unread."""
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    other = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    note(conv, cast.operator, "@collab_a @collab_ab please look")
    note(other, cast.operator, "@collab_a this one too")
    assert len([n for n in notices(cast.collab_a) if n.read_at is None]) == 2
    client.force_login(cast.collab_a)
    assert client.get(reverse("conversation-detail", args=[conv.pk])).status_code == 200
    unread = {n.conversation_id for n in notices(cast.collab_a) if n.read_at is None}
    assert unread == {other.pk}
    assert all(n.read_at is None for n in notices(cast.collab_ab))
