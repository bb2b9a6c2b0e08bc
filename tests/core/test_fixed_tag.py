"""``{% fixed %}`` (apps/core/templatetags/fixed.py): rendered once per language, and it refuses
anything that could vary per request."""
from __future__ import annotations

import pytest
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation

ENGINE = Engine(libraries={"fixed": "apps.core.templatetags.fixed", "i18n": "django.templatetags.i18n",
                           "static": "django.templatetags.static"})


def test_fixed_block_renders_once_per_language_and_keeps_the_text():
    template = ENGINE.from_string(
        "{% load i18n fixed %}{% fixed %}<a href=\"{% url 'inbox' %}\">{% translate \"Inbox\" %}</a>"
        "{% blocktranslate with n='{n}' %}New message in conversation #{{ n }}.{% endblocktranslate %}{% endfixed %}")
    plain = ENGINE.from_string(
        "{% load i18n %}<a href=\"{% url 'inbox' %}\">{% translate \"Inbox\" %}</a>"
        "{% blocktranslate with n='{n}' %}New message in conversation #{{ n }}.{% endblocktranslate %}")
    node = template.nodelist[-1]
    for lang in ("en", "es", "en"):
        with translation.override(lang):
            assert template.render(Context()) == plain.render(Context())
    assert set(k[0] for k in node.rendered) == {"en", "es"} and len(node.rendered) == 2
    with translation.override("es"):
        assert "Bandeja de entrada" in template.render(Context())


@pytest.mark.parametrize("body", [
    "{{ user.username }}",
    "{% translate greeting %}",
    "{% translate 'Inbox' as label %}",
    "{% url view_name %}",
    "{% url 'conversation-detail' pk %}",
    "{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}",
    "{% if user %}x{% endif %}",
    "{% csrf_token %}",
    "{% static path %}",
])
def test_fixed_block_refuses_what_can_vary(body):
    with pytest.raises(TemplateSyntaxError):
        ENGINE.from_string("{% load i18n static fixed %}{% fixed %}" + body + "{% endfixed %}")
