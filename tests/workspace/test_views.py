"""Inbox partials, unread counts, the monitor (one query for the counts) and text-only rendering."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.conversations import services
from apps.conversations.models import Contact, Status
from apps.workspace import inbox, selectors
from tests.factories import PASSWORD, conversation_in, make_user

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_inbox_lists_follow_visibility(client, cast):
    tech = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    sales = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b, contact=cast.other_customer)
    html = login(client, cast.collab_a).get(reverse("workspace-inbox-lists")).content.decode()
    assert f'id="queue-row-{tech.pk}"' in html
    assert f'id="queue-row-{sales.pk}"' not in html and "Otto Other" not in html
    client.logout()
    html = login(client, cast.collab_b).get(reverse("workspace-inbox-lists")).content.decode()
    assert f'id="queue-row-{sales.pk}"' in html and f"queue-row-{tech.pk}" not in html


def test_inbox_page_is_live_and_keeps_its_url_name(client, cast):
    html = login(client, cast.collab_a).get(reverse("inbox")).content.decode()
    assert 'data-live-ws="/ws/staff/"' in html and "vendor/htmx.min.js" in html
    assert 'hx-get="%s?' % reverse("workspace-inbox-lists") in html
    assert 'aria-live="polite"' in html


def test_lists_need_login(client):
    for name in ("workspace-inbox-lists", "workspace-monitor", "workspace-monitor-panel"):
        assert client.get(reverse(name)).status_code == 302


def _row(user, pk, tab="open"):
    page = inbox.conversation_page(user, inbox.filters_from({"tab": tab}))
    return next(c for c in page["rows"] if c.pk == pk)


def test_unread_counts_per_list_and_reading_clears_them(client, cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a)
    services.message_receive(channel=cast.channel, contact=cast.customer, body="¿Siguen ahí?", conversation=conv)
    services.message_receive(channel=cast.channel, contact=cast.customer, body="Hola?", conversation=conv)
    assert _row(cast.collab_a, conv.pk, "mine").unread == 3  # the opening message and two more
    login(client, cast.collab_a)
    resp = client.get(reverse("workspace-conversation-messages", args=[conv.pk]))
    assert resp.status_code == 200
    assert _row(cast.collab_a, conv.pk, "mine").unread == 0
    # reading is per user: the operator still has them unread
    assert selectors.unread_counts(cast.operator, [conv.pk]) == {conv.pk: 3}
    services.message_receive(channel=cast.channel, contact=cast.customer, body="otra", conversation=conv)
    assert selectors.unread_counts(cast.collab_a, [conv.pk]) == {conv.pk: 1}


def test_unread_count_is_one_query(cast, django_assert_num_queries):
    convs = [conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a) for _ in range(3)]
    with django_assert_num_queries(1):
        selectors.unread_counts(cast.collab_a, [c.pk for c in convs])


def test_messages_partial_is_404_outside_visibility(client, cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    login(client, cast.collab_b)
    assert client.get(reverse("workspace-conversation-messages", args=[conv.pk])).status_code == 404


def test_customer_html_is_rendered_as_text(client, cast):
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, text=evil)
    login(client, cast.collab_a)
    for url in (reverse("workspace-conversation-messages", args=[conv.pk]), reverse("conversation-detail", args=[conv.pk])):
        html = client.get(url).content.decode()
        assert "<script>alert(2)</script>" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_monitor_is_for_operators_only(client, cast):
    login(client, cast.collab_a)
    assert client.get(reverse("workspace-monitor")).status_code == 403
    assert client.get(reverse("workspace-monitor-panel")).status_code == 403
    client.logout()
    login(client, cast.operator)
    assert client.get(reverse("workspace-monitor")).status_code == 200


def test_monitor_counts_per_department_and_total(cast):
    conversation_in(cast, Status.BOT)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conversation_in(cast, Status.ASSIGNED, department=cast.dept_a)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, assignee=cast.collab_b)
    conversation_in(cast, Status.ARCHIVED, department=cast.dept_b, assignee=cast.collab_b)
    counts = selectors.monitor_counts(cast.operator)
    by_name = {d["name"]: d for d in counts["departments"]}
    assert set(by_name) >= {"Technical Support", "Sales", "Customer Service"}
    tech, sales = by_name["Technical Support"], by_name["Sales"]
    assert (tech["queue"], tech["assigned"], tech["in_progress"]) == (2, 1, 0)
    assert tech["longest_wait"] is not None and sales["longest_wait"] is None
    assert (sales["queue"], sales["in_progress"]) == (0, 1)
    assert by_name["Customer Service"]["bot"] == 1  # the channel's default department
    assert (counts["total"]["bot"], counts["total"]["queue"], counts["total"]["assigned"],
            counts["total"]["in_progress"]) == (1, 2, 1, 1)


def test_monitor_counts_take_one_query_however_much_data(cast, django_assert_num_queries):
    from apps.roles.access import can_view_monitor

    user = cast.operator
    assert can_view_monitor(user)  # what the view checks first (and caches the user's permissions)
    with django_assert_num_queries(1):
        selectors.monitor_counts(user)
    for status in (Status.BOT, Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS):
        conversation_in(cast, status, department=cast.dept_a)
        conversation_in(cast, status, department=cast.dept_b, assignee=cast.collab_b)
    with django_assert_num_queries(1):
        selectors.monitor_counts(user)


def test_monitor_reads_start_from_the_visibility_module(cast, monkeypatch):
    """The monitor does not decide visibility: whatever access.conversations_visible_to allows."""
    from apps.conversations import access
    from apps.conversations.models import Conversation

    tech = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b, contact=cast.other_customer)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, assignee=cast.collab_b)
    asked = []

    def only_tech(user, action="view", statuses=None):
        asked.append((user, action))
        return Conversation.objects.filter(pk=tech.pk)

    monkeypatch.setattr(access, "conversations_visible_to", only_tech)
    snapshot = selectors.monitor_snapshot(cast.operator)
    waiting = selectors.monitor_waiting(cast.operator)
    assert {u for u, _a in asked} == {cast.operator} and {a for _u, a in asked} == {"view"}
    assert (snapshot["total"]["queue"], snapshot["total"]["in_progress"]) == (1, 0)
    assert [c.pk for c in waiting] == [tech.pk]
    assert all(a["load"] == 0 for a in snapshot["agents"])


def test_monitor_panel_refresh_query_count_is_constant(client, cast):
    login(client, cast.operator)
    url = reverse("workspace-monitor-panel")
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for i in range(3):
        make_user(f"extra{i}", departments=[cast.dept_a, cast.dept_b])
        conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b)
        conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_ab)
    with CaptureQueriesContext(connection) as big:
        resp = client.get(url)
    assert resp.status_code == 200
    assert len(big.captured_queries) == len(small.captured_queries)


def test_monitor_agents_load_and_presence(cast):
    from apps.workspace import presence

    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_ab)
    conversation_in(cast, Status.ASSIGNED, department=cast.dept_b, assignee=cast.collab_ab)
    presence.connected(cast.collab_ab.pk)
    try:
        snapshot = selectors.monitor_snapshot(cast.operator)
    finally:
        presence.disconnected(cast.collab_ab.pk)
    agents = {a["username"]: a for a in snapshot["agents"]}
    assert agents["collab_ab"]["load"] == 2 and agents["collab_a"]["load"] == 0
    assert sorted(agents["collab_ab"]["departments"]) == ["Sales", "Technical Support"]
    if presence.routing_presence is None:
        assert agents["collab_ab"]["presence"] == "online" and agents["collab_b"]["presence"] == "offline"
        tech = next(d for d in snapshot["departments"] if d["name"] == "Technical Support")
        assert tech["agents"] == {"online": 1, "away": 0, "offline": 1}


def test_widget_demo_page_embeds_one_script_tag(client, cast):
    cast.channel.config = {"public_key": "demo-key"}
    cast.channel.save(update_fields=["config"])
    html = client.get(reverse("workspace-widget-demo"), {"key": "demo-key"}).content.decode()
    assert html.count("<script src=") == 1 and "asiste-widget.js\" data-key=\"demo-key\" async></script>" in html
    assert client.get(reverse("workspace-widget-demo"), {"key": "<b>nope"}).content.decode().count("&lt;b&gt;nope") >= 1


def test_widget_demo_without_a_key_opens_the_only_web_chat_with_one(client, cast):
    from apps.conversations.models import Channel

    url = reverse("workspace-widget-demo")
    assert "data-key=\"\"" in client.get(url).content.decode()  # no web chat has a key: nothing to open
    cast.channel.config = {"public_key": "demo-key"}
    cast.channel.save(update_fields=["config"])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"{url}?key=demo-key"
    Channel.objects.create(name="Second site", kind=Channel.Kind.WEBCHAT, config={"public_key": "other-key"})
    response = client.get(url)  # two: the page asks for one instead of guessing
    assert response.status_code == 200 and "data-key=\"\"" in response.content.decode()


def test_pages_speak_spanish(client, cast):
    login(client, cast.collab_a)
    html = client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Mis chats" in html and "Buscar en mensajes y clientes" in html
    assert "El cliente está escribiendo" in html
    client.logout()
    login(client, cast.operator)
    html = client.get(reverse("workspace-monitor"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Todos los departamentos" in html and "Con el Agente de IA" in html


def test_demo_seed_gives_the_web_chat_a_public_key(cast):
    from apps.workspace import demo, widget

    demo.seed(None)
    demo.seed(None)  # idempotent
    cast.channel.refresh_from_db()
    assert cast.channel.config["public_key"] == demo.DEMO_PUBLIC_KEY
    assert widget.channel_by_key(demo.DEMO_PUBLIC_KEY) == cast.channel


def test_widget_strings_come_from_the_catalogues_in_the_asked_language(client):
    """The widget keeps no texts of its own: any embedding site fetches them, per language."""
    url = reverse("workspace-widget-strings")
    es = client.get(url, {"lang": "es"})
    en = client.get(url, {"lang": "en-US"}, HTTP_ACCEPT_LANGUAGE="es")
    fallback = client.get(url, {"lang": "xx"})
    assert es.status_code == en.status_code == fallback.status_code == 200
    assert es["Access-Control-Allow-Origin"] == "*"
    es, en, fallback = es.json(), en.json(), fallback.json()
    assert (es["language"], en["language"], fallback["language"]) == ("es", "en", "es")
    assert es["strings"]["open"] == "Chateá con nosotros" and en["strings"]["open"] == "Chat with us"
    assert es["strings"]["ai"] == "Asistente virtual (IA)" and en["strings"]["ai"] == "Virtual assistant (AI)"
    assert es["strings"]["assigned"] == "%(agent)s te está atendiendo."
    assert len(es["strings"]["stars"]) == 5 and es["strings"]["stars"][4] == "5 - Muy bien"
    assert set(es["strings"]) == set(en["strings"])
    assert all(v != en["strings"][k] for k, v in es["strings"].items() if k not in ("stars",))


def test_conversation_list_pager_keeps_every_filter(client, cast):
    """Previous/next links carry the current query string with only ``page`` changed."""
    import html as html_lib
    from urllib.parse import parse_qs, urlsplit

    from apps.conversations.models import Contact, Conversation

    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    for n in range(52):  # more than one page (50 a page) of chats matching every filter (one per customer)
        Conversation.objects.create(contact=Contact.objects.create(name=f"Carla {n}"), channel=cast.channel,
                                    department=cast.dept_a,
                                    status=Status.UNASSIGNED, queued_at=conv.queued_at)
    login(client, cast.operator)
    query = {"status": "unassigned", "department": str(cast.dept_a.pk), "q": "Carla", "page": "2"}
    resp = client.get(reverse("conversation-list"), query)
    assert resp.status_code == 200
    page = resp.context["page"]
    assert page.number == 2 and page.paginator.num_pages == 2
    links = [html_lib.unescape(h) for h in re.findall(r'<nav[^>]*class="pager".*?</nav>', resp.content.decode(), re.S)[0]
             .split('href="')[1:]]
    hrefs = [h.split('"')[0] for h in links]
    assert len(hrefs) == 1  # page 2 of 2: only "Previous"
    kept = parse_qs(urlsplit(hrefs[0]).query)
    assert kept == {"status": ["unassigned"], "department": [str(cast.dept_a.pk)], "q": ["Carla"], "page": ["1"]}
    first = client.get(reverse("conversation-list"), {**query, "page": "1"}).content.decode()
    nxt = re.findall(r'<nav[^>]*class="pager".*?href="([^"]+)"', first, re.S)[0]
    assert parse_qs(urlsplit(html_lib.unescape(nxt)).query) == {**kept, "page": ["2"]}


def test_inbox_page_and_list_partial_query_counts(client, cast):
    """The full page: session, user, permissions (one query, not two), the department read (which
    also names the filter menu's departments), the page (its ids and rows with their labels in one
    statement), the label menu, tab counts and presence = 8 (12, then 9 before). The list partial
    re-fetched on live signals needs no menus, counts or presence: 5. The rows still carry their
    labels (escaped, in name order)."""
    from apps.workspace.models import ConversationLabel, Label

    convs = [conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
             for _ in range(3)] + [conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)]
    zeta, alpha = Label.objects.create(name="zeta <b>", color="red"), Label.objects.create(name="alpha")
    for label in (zeta, alpha):
        ConversationLabel.objects.create(conversation=convs[0], label=label)
    login(client, cast.collab_a)
    for name, expected in (("inbox", 8), ("workspace-inbox-lists", 5)):
        client.get(reverse(name))  # the first request compiles the list's SQL
        with CaptureQueriesContext(connection) as queries:
            resp = client.get(reverse(name))
        assert resp.status_code == 200
        assert len(queries.captured_queries) == expected, [q["sql"][:120] for q in queries.captured_queries]
        html = resp.content.decode()
        for conv in convs:
            assert f'data-conversation="{conv.pk}"' in html
        row = html.split(f'data-conversation="{convs[0].pk}"')[1].split("</li>")[0]
        assert row.index(">alpha<") < row.index(">zeta &lt;b&gt;<") and "<b>" not in row
    html = client.get(reverse("inbox")).content.decode()
    menu = html.split('id="f-department"')[1].split("</select>")[0]
    assert f'value="{cast.dept_a.pk}"' in menu and f'value="{cast.dept_b.pk}"' not in menu
    assert 'id="presence-select"' in html


@pytest.mark.parametrize("params", [{}, {"tab": "queue"}, {"q": "router"}, {"tab": "queue", "q": "router"},
                                    {"tab": "archived", "q": "router"}, {"tab": "queue", "label": "LABEL"}])
def test_list_page_is_one_statement_whatever_its_size(client, cast, params):
    """The page's ids, rows, labels and search excerpts come in ONE statement: the same number of
    queries for a list of one chat, a full page of 25 and its second page (more rows, more labels,
    more excerpts add none), with every row and excerpt there."""
    from apps.workspace.models import ConversationLabel, Label

    label = Label.objects.create(name="router")
    params = {k: (str(label.pk) if v == "LABEL" else v) for k, v in params.items()}
    login(client, cast.collab_a)

    def counted(**extra) -> tuple[int, str]:
        client.get(reverse("workspace-inbox-lists"), {**params, **extra})  # compiles the SQL
        with CaptureQueriesContext(connection) as queries:
            resp = client.get(reverse("workspace-inbox-lists"), {**params, **extra})
        assert resp.status_code == 200
        return len(queries.captured_queries), resp.content.decode()

    def add(n: int) -> list:
        made = []
        for _ in range(n):
            status = Status.ARCHIVED if params.get("tab") == "archived" else Status.UNASSIGNED
            conv = conversation_in(cast, status, department=cast.dept_a, assignee=cast.collab_a,
                                   contact=Contact.objects.create(name=f"C{Contact.objects.count()}"),
                                   text=f"el router parpadea {Contact.objects.count()}")
            ConversationLabel.objects.create(conversation=conv, label=label)
            made.append(conv)
        return made

    first = add(1)
    one, html = counted()
    assert f'data-conversation="{first[0].pk}"' in html
    more = first + add(29)
    full, html = counted()
    second, html2 = counted(page="2")
    assert one == full == second, (one, full, second)
    rows, rows2 = (re.findall(r'<li id="\w+-row-(\d+)"', h) for h in (html, html2))
    assert len(rows) == 25 and sorted(map(int, rows + rows2)) == sorted(c.pk for c in more)
    if params.get("q"):
        assert (html + html2).count("<mark>router</mark>") == 30  # every row's excerpt


def test_operator_check_is_one_query_and_answers_like_django(cast, django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from apps.roles.access import can_view_monitor, is_operator

    User = get_user_model()
    for user, operator in ((cast.operator, True), (cast.collab_a, False)):
        fresh = User.objects.get(pk=user.pk)
        with django_assert_num_queries(1):
            assert is_operator(fresh) is operator
            assert can_view_monitor(fresh) is operator
        assert User.objects.get(pk=user.pk).get_all_permissions() == fresh.get_all_permissions()
