"""The role matrix from the product's comparison table, in ONE table, enforced through every
entry point that exists: the visibility module, the HTML views and the DRF endpoints.

A denied object is 404 (existence does not leak); a denied function is 403. Later issues extend
ROLE_MATRIX's entry points (websockets, exports); the table itself is the product's contract.
"""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from apps.conversations import access
from apps.conversations import services
from apps.conversations.models import Status
from apps.roles import access as role_access
from tests.factories import PASSWORD, conversation_in

pytestmark = pytest.mark.django_db

ROLES = ("operator", "collab_a", "collab_ab", "collab_b", "outsider", "anonymous")
Y, N = True, False

# cell -> expected per role, in ROLES order.
ROLE_MATRIX: dict[str, tuple[bool, ...]] = {
    #                                   operator collab_a collab_ab collab_b outsider anonymous
    "chat_with_customer":              (Y,       Y,       Y,        Y,       Y,       N),
    "view_own_assigned":               (Y,       Y,       Y,        Y,       Y,       N),
    "view_own_department_queue":       (Y,       Y,       Y,        Y,       N,       N),
    "view_own_department_chats":       (Y,       Y,       Y,        Y,       N,       N),
    "view_other_department_chats":     (Y,       N,       N,        N,       N,       N),
    "global_monitor":                  (Y,       N,       N,        N,       N,       N),
    "reassign_between_agents":         (Y,       N,       N,        N,       N,       N),
    "reports_and_dashboards":          (Y,       N,       N,        N,       N,       N),
    "configure_bots_and_integrations": (Y,       N,       N,        N,       N,       N),
    "manage_users":                    (Y,       N,       N,        N,       N,       N),
    "full_archived_history":           (Y,       N,       N,        N,       N,       N),
    "own_archived_history":            (Y,       Y,       Y,        Y,       Y,       N),
    "history_of_customer_in_chat":     (Y,       Y,       Y,        Y,       Y,       N),
}


class World:
    """Objects for every cell, built through the real services."""

    def __init__(self, cast):
        from apps.conversations.models import Contact
        from apps.departments.models import Department

        self.cast = cast
        self.dept_c = Department.objects.create(name="Collections", slug="collections")
        self.users = {"operator": cast.operator, "collab_a": cast.collab_a, "collab_ab": cast.collab_ab,
                      "collab_b": cast.collab_b, "outsider": cast.outsider, "anonymous": None}
        home = {"operator": cast.dept_a, "collab_a": cast.dept_a, "collab_ab": cast.dept_b,
                "collab_b": cast.dept_b, "outsider": self.dept_c}
        self.own_assigned, self.own_archived, self.customer_history = {}, {}, {}
        for role, user in self.users.items():
            if user is None:
                continue
            customer = Contact.objects.create(name=f"Customer of {role}")
            # An older chat of this customer, handled by someone else in another department.
            other_dept = self.dept_c if home[role] != self.dept_c else cast.dept_b
            older = conversation_in(cast, Status.ARCHIVED, department=other_dept, contact=customer,
                                    assignee=cast.operator)
            self.customer_history[role] = older
            if role == "outsider":
                # An outsider has no queue: a chat reaches them only by an explicit assignment.
                conv = conversation_in(cast, Status.UNASSIGNED, department=self.dept_c, contact=customer)
                services.conversation_assign(conversation=conv, assignee=user, reason="specialist")
                archived = conversation_in(cast, Status.UNASSIGNED, department=self.dept_c)
                services.conversation_assign(conversation=archived, assignee=user, reason="specialist")
                services.conversation_archive(conversation=archived, actor=cast.operator)
            else:
                conv = conversation_in(cast, Status.ASSIGNED, department=home[role], contact=customer, assignee=user)
                archived = conversation_in(cast, Status.ARCHIVED, department=home[role], assignee=user)
            self.own_assigned[role] = conv
            self.own_archived[role] = archived
        self.queue = {d.pk: conversation_in(cast, Status.UNASSIGNED, department=d) for d in (cast.dept_a, cast.dept_b)}
        # A chat in progress with someone else, per department (department chats, not only the queue).
        self.busy = {cast.dept_a.pk: conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a,
                                                     assignee=cast.collab_a, contact=cast.other_customer),
                     cast.dept_b.pk: conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b,
                                                     assignee=cast.collab_b,
                                                     contact=Contact.objects.create(name="Busy B customer"))}
        self.other_archived = conversation_in(cast, Status.ARCHIVED, department=self.dept_c, assignee=cast.operator)
        # Archived chats of the Collaborators' OWN departments handled by someone else: full archived
        # history is the Operator's alone, even inside one's department (Collaborators: only their own).
        self.dept_archived = {d.pk: conversation_in(cast, Status.ARCHIVED, department=d, assignee=cast.operator)
                              for d in (cast.dept_a, cast.dept_b)}
        self.other_dept_chat = conversation_in(cast, Status.UNASSIGNED, department=self.dept_c)

    def own_dept(self, role):
        return {"operator": self.cast.dept_a, "collab_a": self.cast.dept_a, "collab_ab": self.cast.dept_b,
                "collab_b": self.cast.dept_b}.get(role)

    def objects_for(self, cell, role):
        """The conversation(s) a cell is about, for this role."""
        if cell in ("chat_with_customer", "view_own_assigned"):
            return [self.own_assigned.get(role) or self.own_assigned["collab_a"]]
        if cell == "view_own_department_queue":
            dept = self.own_dept(role) or self.cast.dept_a
            return [self.queue[dept.pk]]
        if cell == "view_own_department_chats":
            dept = self.own_dept(role) or self.cast.dept_a
            busy = self.busy[dept.pk]
            return [busy] if busy.assignee_id != getattr(self.users[role], "pk", None) else [self.queue[dept.pk]]
        if cell == "view_other_department_chats":
            if role in ("collab_a",):
                return [self.queue[self.cast.dept_b.pk], self.busy[self.cast.dept_b.pk]]
            if role in ("collab_b",):
                return [self.queue[self.cast.dept_a.pk], self.busy[self.cast.dept_a.pk]]
            return [self.other_dept_chat]
        if cell == "full_archived_history":
            dept = self.own_dept(role) or self.cast.dept_a
            return [self.other_archived, self.dept_archived[dept.pk]]
        if cell == "own_archived_history":
            return [self.own_archived.get(role) or self.own_archived["collab_a"]]
        if cell == "history_of_customer_in_chat":
            return [self.customer_history.get(role) or self.customer_history["collab_a"]]
        return []


FUNCTION_CELLS = {"global_monitor", "reassign_between_agents", "reports_and_dashboards",
                  "configure_bots_and_integrations", "manage_users"}
OBJECT_CELLS = [c for c in ROLE_MATRIX if c not in FUNCTION_CELLS and c != "chat_with_customer"]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at the end; each test
    runs in its own savepoint on top of it, so a test's writes never leak into the next."""
    from django.db import transaction

    from tests.factories import make_cast

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield World(make_cast())
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


CASES = [(cell, role, ROLE_MATRIX[cell][i]) for cell in ROLE_MATRIX for i, role in enumerate(ROLES)]


def test_matrix_is_complete():
    assert all(len(row) == len(ROLES) for row in ROLE_MATRIX.values())


@pytest.mark.parametrize("cell,role,expected", [c for c in CASES if c[0] in OBJECT_CELLS])
def test_visibility_of_objects(world, cell, role, expected):
    """Visibility module, HTML page and DRF endpoint agree: 200 when allowed, 404 when not."""
    user = world.users[role]
    for conv in world.objects_for(cell, role):
        assert access.conversations_visible_to(user, "view").filter(pk=conv.pk).exists() is expected, conv
        client = client_for(user)
        page = client.get(reverse("conversation-detail", args=[conv.pk]))
        api = client.get(f"/api/v1/conversations/{conv.pk}/")
        msgs = client.get(f"/api/v1/conversations/{conv.pk}/messages/")
        if user is None:
            assert page.status_code == 302 and "/login/" in page["Location"]
            assert api.status_code in (401, 403) and msgs.status_code in (401, 403)
        else:
            want = 200 if expected else 404
            assert (page.status_code, api.status_code, msgs.status_code) == (want, want, want), (cell, role, conv)
            listed = {row["id"] for row in client.get("/api/v1/conversations/?limit=500").json()["results"]}
            assert (conv.pk in listed) is expected


LISTED_CELLS = {"view_own_assigned", "view_own_department_queue", "view_own_department_chats", "own_archived_history"}


@pytest.mark.parametrize("cell,role,expected", [c for c in CASES if c[0] in OBJECT_CELLS and c[1] != "anonymous"])
def test_search_and_workspace_endpoints_follow_visibility(world, cell, role, expected, settings, tmp_path):
    """Inbox search (every tab) never returns a chat the user may not see; the workspace's per-chat
    endpoints (timeline, labels, saved replies for a chat, the chat's files) answer 404 for it."""
    from pathlib import Path

    from apps.conversations import attachments
    from apps.workspace import inbox
    from apps.workspace.models import ConversationLabel, Label

    settings.ATTACHMENTS_ROOT = tmp_path
    photo = (Path(__file__).resolve().parents[1] / "fixtures" / "router-lights.jpg").read_bytes()

    user = world.users[role]
    client = client_for(user)
    label = Label.objects.get_or_create(name="matrix")[0]
    for conv in world.objects_for(cell, role):
        found = set()
        for tab in inbox.TABS:
            for q in (str(conv.pk), conv.contact.name, "necesito ayuda"):
                found |= {c.pk for c in inbox.conversation_page(user, inbox.filters_from({"tab": tab, "q": q}))["rows"]}
            html = client.get(reverse("inbox"), {"tab": tab, "q": str(conv.pk)}).content.decode()
            if not expected:
                assert f"-row-{conv.pk}\"" not in html, (cell, role, tab)
        if not expected:
            assert conv.pk not in found, (cell, role)
        elif cell in LISTED_CELLS:
            assert conv.pk in found, (cell, role)
        want = 200 if expected else 404
        file = attachments.attachment_store(message=conv.messages.first(),
                                            file=attachments.attachment_check(name="router.jpg", data=photo))
        assert client.get(reverse("workspace-attachment", args=[file.pk])).status_code == want
        assert client.get(reverse("workspace-attachment", args=[file.pk]), {"thumb": "1"}).status_code == want
        assert client.get(reverse("workspace-conversation-messages", args=[conv.pk])).status_code == want
        assert client.get(reverse("workspace-saved-replies"), {"conversation": conv.pk}).status_code == want
        offered = client.get(reverse("workspace-mention-suggestions", args=[conv.pk]))
        assert offered.status_code == want
        for person in offered.json()["people"] if expected else []:  # "@" offers only people who see it
            assert access.conversation_can(get_user_model().objects.get(pk=person["id"]), conv, "view"), (cell, person)
        added = client.post(reverse("workspace-label-add", args=[conv.pk]), {"label": label.pk})
        assert added.status_code == (302 if expected else 404)
        assert ConversationLabel.objects.filter(conversation=conv, label=label).exists() is expected


@pytest.mark.parametrize("cell,role,expected", [c for c in CASES if c[0] == "chat_with_customer"])
def test_chat_with_customer(world, cell, role, expected):
    """Replying in one's own assigned chat: allowed for every human; through the HTML form."""
    user = world.users[role]
    conv = world.objects_for(cell, role)[0]
    before = conv.messages.count()
    response = client_for(user).post(reverse("conversation-reply", args=[conv.pk]), {"body": "Hola, te ayudo"})
    if user is None:
        assert response.status_code == 302 and "/login/" in response["Location"]
    else:
        assert response.status_code == 302
    assert conv.messages.count() == before + (1 if expected else 0)


@pytest.mark.parametrize("role", ["collab_b", "collab_ab", "outsider"])
def test_cannot_reply_in_someone_elses_chat(world, role):
    """Seeing a chat is not owning it: a visible chat of another agent gives 403, an invisible one 404."""
    conv = world.own_assigned["collab_a"]
    user = world.users[role]
    response = client_for(user).post(reverse("conversation-reply", args=[conv.pk]), {"body": "intruding"})
    visible = access.conversations_visible_to(user, "view").filter(pk=conv.pk).exists()
    assert response.status_code == (403 if visible else 404)
    assert not conv.messages.filter(body="intruding").exists()


def _function_response(world, cell, client):
    conv = world.own_assigned["collab_a"]
    if cell == "global_monitor":
        # The live monitor and the all-departments list are both Operator functions.
        monitor = client.get(reverse("workspace-monitor"))
        listing = client.get(reverse("conversation-list"))
        assert monitor.status_code == listing.status_code
        return monitor
    if cell == "reassign_between_agents":
        return client.post(reverse("conversation-reassign", args=[conv.pk]),
                           {"assignee": world.cast.collab_ab.pk, "reason": "load"})
    if cell == "reports_and_dashboards":
        return client.get(reverse("reports-dashboard"))
    if cell == "configure_bots_and_integrations":
        return client.get(reverse("admin:conversations_channel_changelist"))
    if cell == "manage_users":
        return client.get(reverse("admin:accounts_user_changelist"))
    raise AssertionError(cell)


@pytest.mark.parametrize("cell,role,expected", [c for c in CASES if c[0] in FUNCTION_CELLS])
def test_functions(world, cell, role, expected):
    user = world.users[role]
    capability = {"global_monitor": role_access.can_view_monitor, "reassign_between_agents": role_access.can_reassign,
                  "reports_and_dashboards": role_access.can_view_reports,
                  "configure_bots_and_integrations": role_access.can_configure,
                  "manage_users": role_access.can_manage_users}[cell]
    assert capability(user) is expected
    response = _function_response(world, cell, client_for(user))
    admin_cell = cell in ("configure_bots_and_integrations", "manage_users")
    if expected:
        assert response.status_code in ((200,) if cell != "reassign_between_agents" else (302,))
        if cell == "reassign_between_agents":
            world.own_assigned["collab_a"].refresh_from_db()
            assert world.own_assigned["collab_a"].assignee_id == world.cast.collab_ab.pk
    elif user is None or admin_cell:
        # Anonymous users go to the login page; the admin sends non-staff users to its login too.
        assert response.status_code == 302 and "login" in response["Location"]
    else:
        assert response.status_code == 403
    if cell == "reassign_between_agents" and not expected:
        world.own_assigned["collab_a"].refresh_from_db()
        assert world.own_assigned["collab_a"].assignee_id == world.cast.collab_a.pk


def test_live_audience_is_exactly_who_may_see(world):
    """The reverse function (who hears about a chat over websockets) agrees with the forward one
    (who may open it) for every conversation of the world, before and after a department is
    switched off."""
    from apps.conversations.models import Conversation
    from apps.departments.models import Department

    people = {role: user for role, user in world.users.items() if user is not None}

    def check():
        for conv in Conversation.objects.all():
            expected = {u.pk for u in people.values()
                        if access.conversations_visible_to(u, "view").filter(pk=conv.pk).exists()}
            heard = set(access.conversation_audience(conv)) & {u.pk for u in people.values()}
            assert heard == expected, (conv.pk, conv.status, conv.department_id, heard, expected)

    check()
    Department.objects.filter(pk=world.cast.dept_b.pk).update(is_active=False)
    check()


def test_audiences_of_many_conversations_match_one_by_one(world):
    """The batch form (the escalation sweep's signals) answers exactly what the one-conversation form
    answers, for every conversation of the world: shares, a customer's handler, an inactive user,
    a switched-off department."""
    from apps.conversations.models import Conversation
    from apps.departments.models import Department

    cast = world.cast
    queued = Conversation.objects.filter(status=Status.UNASSIGNED, department=cast.dept_a).first()
    services.conversation_share(conversation=queued, user=cast.outsider, actor=cast.operator)

    def check():
        convs = list(Conversation.objects.all())
        batch = access.conversation_audiences(convs)
        assert set(batch) == {c.pk for c in convs}
        for conv in convs:
            assert batch[conv.pk] == access.conversation_audience(conv), (conv.pk, conv.status)
        return batch

    assert cast.outsider.pk in check()[queued.pk]
    type(cast.collab_a).objects.filter(pk=cast.collab_a.pk).update(is_active=False)
    assert cast.collab_a.pk not in check()[queued.pk]
    Department.objects.filter(pk=cast.dept_b.pk).update(is_active=False)
    check()
    assert access.conversation_audiences([]) == {}


def test_department_permission_through_a_group_gives_the_same_visibility(world):
    """A department permission held through a group (guardian's group object permission) is worth
    exactly the same as the one a membership grants directly: the same chats for every action, the
    same inbox lists, the same departments, and the same live audience."""
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from apps.conversations.models import Conversation
    from apps.workspace import inbox
    from tests.factories import make_user

    cast = world.cast
    direct = make_user("direct_a", departments=[cast.dept_a])
    via_group = make_user("group_a")
    team = Group.objects.create(name="Technical Support team")
    for codename in ("handle_department", "archive_department", "transfer_department"):
        assign_perm(f"departments.{codename}", team, cast.dept_a)
    via_group.groups.add(team)

    for action in access.ACTIONS:
        got = set(access.conversations_visible_to(via_group, action).values_list("pk", flat=True))
        assert got == set(access.conversations_visible_to(direct, action).values_list("pk", flat=True)), action
    assert world.queue[cast.dept_a.pk].pk in access.conversations_visible_to(via_group, "pickup").values_list(
        "pk", flat=True)
    assert list(access.departments_for(via_group)) == list(access.departments_for(direct)) == [cast.dept_a]
    for tab in ("open", "queue"):
        f = inbox.filters_from({"tab": tab})
        assert [c.pk for c in inbox.conversation_page(via_group, f)["rows"]] == \
            [c.pk for c in inbox.conversation_page(direct, f)["rows"]] != []
    for conv in Conversation.objects.all():
        heard = set(access.conversation_audience(conv))
        assert (via_group.pk in heard) == (direct.pk in heard), conv.pk
    team.user_set.remove(via_group)
    assert not access.conversations_visible_to(via_group, "pickup").exists()
