"""Every user-facing string is marked for translation, and the Spanish catalogue covers all of them.

The extraction is pure Python (apps.core.i18n): no GNU gettext needed on a fresh machine.
Fix a failure with ``python3 run.py manage i18n_sync`` (adds the missing entries to a catalogue)
and then write the Spanish text.
"""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation

from apps.core import i18n


def test_no_unmarked_user_facing_strings():
    problems = i18n.unmarked_strings()
    assert not problems, "Mark these for translation:\n" + "\n".join(
        f"  {path}: {item}" for path, items in problems.items() for item in items)


def test_spanish_catalogue_is_complete():
    missing = i18n.missing_translations("es")
    assert not missing, f"{len(missing)} messages lack a Spanish translation:\n" + "\n".join(
        f"  {where}: {msgid!r}" for (msgid, _ctx), where in sorted(missing.items(), key=lambda kv: kv[1])[:60])


def test_the_check_catches_an_unmarked_template(tmp_path, settings):
    page = tmp_path / "templates" / "x.html"
    page.parent.mkdir()
    page.write_text('{% load i18n %}<h1>{% translate "Inbox" %}</h1><p>Queue is empty</p>'
                    '<input placeholder="Search customers">')
    found = i18n.unmarked_template_text(page)
    assert "Queue is empty" in found and 'placeholder="Search customers"' in found


def test_the_check_catches_an_unmarked_python_string(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from django.contrib import messages\n"
                      "def v(request):\n    messages.error(request, 'Not allowed here')\n"
                      "    raise NotAllowed('You cannot do that')\n")
    assert len(i18n.unmarked_python_strings(module)) == 2


def test_the_check_catches_admin_texts_flash_words_and_template_defaults(tmp_path):
    module = tmp_path / "admin.py"
    module.write_text("from django.contrib import admin\n"
                      "@admin.display(description='Waiting time')\ndef wait(obj): pass\n"
                      "@admin.action(description='Mark as done')\ndef done(modeladmin, request, qs):\n"
                      "    modeladmin.message_user(request, 'Saved')\n"
                      "from drf_spectacular.utils import OpenApiParameter\n"
                      "P = OpenApiParameter('q', description='Search text for integrators')\n")
    found = i18n.unmarked_python_strings(module)
    assert len(found) == 3, found  # the two admin descriptions and the one-word flash; not the API doc
    page = tmp_path / "templates" / "y.html"
    page.parent.mkdir()
    page.write_text('{% load i18n %}<p>{{ conversation.subject|default:"No subject yet" }}</p>'
                    '<p>{{ n|default:"—" }}</p>')
    assert i18n.unmarked_template_text(page) == ['default:"No subject yet"']


def test_the_check_catches_a_missing_spanish_entry(monkeypatch):
    monkeypatch.setattr(i18n, "extract_messages", lambda: {("A brand new sentence nobody translated", None): "x.py:1"})
    assert i18n.missing_translations("es")


@pytest.mark.django_db
def test_pages_render_in_spanish_and_english(cast):
    from tests.factories import PASSWORD

    client = Client()
    client.login(username=cast.collab_a.username, password=PASSWORD)
    spanish = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    english = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Bandeja de entrada" in spanish and 'lang="es"' in spanish
    assert "Inbox" in english and 'lang="en"' in english


@pytest.mark.django_db
def test_staff_language_preference_wins_over_browser(cast):
    from tests.factories import PASSWORD

    cast.collab_a.language = "en"
    cast.collab_a.save(update_fields=["language"])
    client = Client()
    client.login(username=cast.collab_a.username, password=PASSWORD)
    page = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'lang="en"' in page


def test_customer_facing_service_errors_follow_the_active_language():
    from apps.core.errors import InvalidInput
    from apps.conversations.services import clean_body

    with translation.override("es"):
        with pytest.raises(InvalidInput) as info:
            clean_body("   ")
    assert info.value.message == "Un mensaje no puede estar vacío."
