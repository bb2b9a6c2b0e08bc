"""``{% fixed %}...{% endfixed %}``: a piece of a template that depends on nothing but the active
language, rendered once per language (and URL prefix) by each process and then reused.

The inbox page spent about a quarter of its rendering on such pieces: labels, hints and link
targets written with ``{% translate %}``, ``{% url %}`` and ``{% static %}`` that come out the same
for every request in the same language. The block only accepts those (with literal arguments),
plain text and comments, so nothing that varies per request or per user can end up in it
unnoticed: anything else is a ``TemplateSyntaxError`` when the template is loaded. The rendered
text is kept on the template's own node (Django's cached template loader keeps the parsed template
per process), so it is never shared between processes and needs no invalidation: translations and
URLs change only with a deploy, which restarts the processes.
"""
from __future__ import annotations

from django import template
from django.template.base import FilterExpression, TextNode, Variable
from django.template.defaulttags import CommentNode, URLNode
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix
from django.utils import translation

register = template.Library()


def _literal(value) -> bool:
    """A template argument written as a literal (``'inbox'``), not a variable or a filter."""
    if not isinstance(value, FilterExpression) or value.filters:
        return False
    return not value.is_var or (isinstance(value.var, Variable) and value.var.literal is not None)


def _fixed(node) -> bool:
    if isinstance(node, (TextNode, CommentNode)):
        return True
    if isinstance(node, TranslateNode):
        return node.asvar is None and _literal(node.filter_expression)
    if isinstance(node, BlockTranslateNode):
        names = set(node.extra_context)
        tokens = node.singular + (node.plural or [])
        return (node.asvar is None and node.counter is None and all(_literal(v) for v in node.extra_context.values())
                and all(t.token_type.name == "TEXT" or t.contents in names for t in tokens))
    if isinstance(node, URLNode):
        return (node.asvar is None and _literal(node.view_name) and all(_literal(a) for a in node.args)
                and all(_literal(v) for v in node.kwargs.values()))
    if isinstance(node, StaticNode):
        return node.varname is None and _literal(node.path)
    return False


class FixedNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist
        self.rendered: dict[tuple, str] = {}

    def render(self, context) -> str:
        key = (translation.get_language(), get_script_prefix(), context.autoescape)
        text = self.rendered.get(key)
        if text is None:
            text = self.rendered[key] = self.nodelist.render(context)
        return text


@register.tag
def fixed(parser, token):
    nodelist = parser.parse(("endfixed",))
    parser.delete_first_token()
    for node in nodelist:
        if not _fixed(node):
            raise template.TemplateSyntaxError(
                f"{{% fixed %}} holds only text, {{% translate %}}, {{% blocktranslate %}}, {{% url %}} and "
                f"{{% static %}} with literal arguments, not {node!r}")
    return FixedNode(nodelist)
