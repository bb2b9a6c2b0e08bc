"""Settings come from the environment; production settings pass check --deploy; the demo seeds."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("a-very-long-production-secret-key-with-enough-entropy-0123456789-abcdefghijkl")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k not in {"SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE",
                                                                  "CSRF_COOKIE_SECURE", "DEBUG", "SECRET_KEY"}},
             "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/asiste_prod_check", "REDIS_URL": "redis://127.0.0.1:6379/15",
             "SECRET_KEY_FILE": str(secret), "ALLOWED_HOSTS": "support.example.com",
             "CHROMA_URL": "http://127.0.0.1:8001"},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # Several processes without the shared vector-store server: said so.
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='asisteclick.settings'; django.setup();"
            "from apps.knowledge.apps import _check_shared_vector_store as c; print([w.id for w in c()])")
    result = run_python(code, {"DATABASE_URL": "postgres://u@db:5432/x", "SECRET_KEY": "k" * 60})
    assert result.returncode == 0 and result.stdout.strip() == "['knowledge.W001']", result.stdout + result.stderr


def test_embedded_default_needs_nothing():
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='asisteclick.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)")
    result = run_python(code, {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer", "True"]


def test_production_settings_use_postgres_and_redis():
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='asisteclick.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL)")
    result = run_python(code, {"DATABASE_URL": "postgres://u@db:5432/x", "REDIS_URL": "redis://r:6379/0",
                               "SECRET_KEY": "k" * 60})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "channels_redis.pubsub.RedisPubSubChannelLayer",
                                     "redis://r:6379/0"]


def test_production_without_secret_refuses_to_start():
    result = run_python("import os; os.environ['DJANGO_SETTINGS_MODULE']='asisteclick.settings';"
                        "import django; django.setup()", {"DATABASE_URL": "postgres://u@db:5432/x"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_bad_boolean_is_a_clear_error():
    result = run_python("import os; os.environ['DJANGO_SETTINGS_MODULE']='asisteclick.settings';"
                        "import django; django.setup()", {"DEBUG": "maybe"})
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr


@pytest.mark.django_db
def test_demo_seed_is_idempotent_and_realistic(django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    from apps.conversations.models import Contact, Conversation, Status
    from apps.conversations.demo import seed_core
    from apps.departments.models import Department, Membership

    seed_core(None, conversations=60)
    seed_core(None, conversations=60)
    assert Contact.objects.count() == 80_000
    assert set(Department.objects.values_list("name", flat=True)) == {
        "Sales", "Technical Support", "Collections", "Cancellations", "Customer Service"}
    assert Department.objects.get(is_default=True).name == "Customer Service"
    User = get_user_model()
    assert User.objects.filter(role="operator").count() == 1
    assert User.objects.filter(role="collaborator").count() == 7
    assert Membership.objects.filter(department__slug="technical-support").count() == 4
    lucas = User.objects.get(username="night.lucas")
    assert lucas.memberships.count() == 2 and lucas.is_external
    assert Conversation.objects.count() == 60
    assert {Status.ARCHIVED, Status.UNASSIGNED}.issubset(set(Conversation.objects.values_list("status", flat=True)))


def test_embedded_default_serves_static_files_without_collectstatic(tmp_path):
    """The demo (runserver, DEBUG off) must serve the CSS, htmx and the widget script itself."""
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='asisteclick.settings'; django.setup();"
            "from django.test import Client; c = Client();"
            "print(*[c.get(u).status_code for u in ('/static/css/app.css', '/static/widget/asiste-widget.js',"
            " '/static/vendor/htmx.min.js', '/static/nope.js')])")
    result = run_python(code, {"STATIC_ROOT": str(tmp_path / "empty-static-root")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200", "200", "404"]
