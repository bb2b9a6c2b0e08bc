"""Content-Security-Policy on every page: scripts and styles from this origin only (inline blocks
carry the request's nonce), nothing framed, forms post here; and the pages themselves carry no
inline code the policy would block."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.conversations.models import Status
from tests.factories import conversation_in

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b(?![^>]*\bnonce=)[^>]*>", re.I)
STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle=", re.I)
HANDLER_ATTR = re.compile(r"<[a-z][^>]*\son[a-z]+=", re.I)
JS_URL = re.compile(r"""(href|src|action)=["']\s*javascript:""", re.I)


def policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no CSP on {response.request['PATH_INFO']}"
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def check_page(response, *, strict_styles: bool = True) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body), INLINE_SCRIPT.search(body).group(0)
    assert not HANDLER_ATTR.search(body), HANDLER_ATTR.search(body).group(0)
    assert not JS_URL.search(body)
    if strict_styles:
        assert not INLINE_STYLE.search(body), INLINE_STYLE.search(body).group(0)
        assert not STYLE_ATTR.search(body), STYLE_ATTR.search(body).group(0)
    nonces = set(re.findall(r'nonce="([^"]+)"', body))
    if nonces:  # a nonce used on the page is the one in the header
        assert all(f"'nonce-{n}'" in directives["script-src"] for n in nonces)


def test_anonymous_pages(cast):
    client = Client()
    for url, status in (("/login/", 200), ("/admin/login/", 200), ("/workspace/widget-demo/?key=x", 200),
                        ("/no-such-page/", 404), ("/conversations/?q=%00", 400)):
        response = client.get(url)
        assert response.status_code == status, url
        check_page(response)


def test_staff_pages(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.operator)
    client = Client()
    client.force_login(cast.operator)
    pages = ["/inbox/", "/conversations/", f"/conversations/{conv.pk}/", "/workspace/monitor/",
             "/reports/", "/account/preferences/", "/admin/", "/admin/accounts/user/",
             f"/admin/accounts/user/{cast.collab_a.pk}/change/", "/admin/conversations/conversation/",
             "/admin/axes/accessattempt/", "/admin/knowledge/document/", "/admin/core/auditentry/",
             "/routing/notifications/", "/conversations/?q=%00"]
    for url in pages:
        response = client.get(url, follow=False)
        assert response.status_code in (200, 400), (url, response.status_code)
        check_page(response)


def test_forbidden_and_api_docs_pages(cast):
    client = Client()
    client.force_login(cast.collab_a)
    forbidden = client.get("/conversations/")
    assert forbidden.status_code == 403
    check_page(forbidden)
    client.force_login(cast.operator)
    for url in ("/api/docs/", "/api/redoc/"):
        response = client.get(url)
        assert response.status_code == 200, url
        # Third-party documentation apps style inline; their scripts stay 'self' or nonce'd.
        check_page(response, strict_styles=False)
