from django.apps import AppConfig


class AgentConfig(AppConfig):
    name = "apps.agent"
    label = "agent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from apps.core import events

        from .tasks import on_message_received

        # The AI Agent answers customer messages of chats it owns (published by the conversation core).
        events.message_received.connect(on_message_received)

        from . import models
        from .engine import engine_invalidate

        for model in (models.Topic, models.TopicExample, models.TopicField, models.TransferRule,
                      models.AgentSettings):
            post_save.connect(engine_invalidate, sender=model, dispatch_uid=f"agent-invalidate-save-{model.__name__}")
            post_delete.connect(engine_invalidate, sender=model, dispatch_uid=f"agent-invalidate-del-{model.__name__}")
        m2m_changed.connect(engine_invalidate, sender=models.Topic.documents.through,
                            dispatch_uid="agent-invalidate-docs")

        # The reports' knowledge-gaps table (reports does not import the agent).
        from apps.core.report_tables import register_table

        from .reports import knowledge_gap_rows

        register_table("knowledge_gaps", knowledge_gap_rows)

        # A worker prepares the knowledge base's answer units at start, not on the first message.
        from celery.signals import worker_process_init

        worker_process_init.connect(_warm_units, weak=False, dispatch_uid="agent_units_warm")

        # Periodic work for Celery beat (as apps.integrations does): re-run lost bot turns and
        # close idle bot chats (apps/agent/reconcile.py).
        from django.conf import settings

        from asisteclick.celery import app

        seconds = float(getattr(settings, "AGENT_RECONCILE_SECONDS", 60))
        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "agent-reconcile": {"task": "apps.agent.tasks.agent_reconcile_task", "schedule": seconds,
                                "options": {"expires": seconds}},
        }


def _warm_units(**kwargs):
    try:
        from .compose import units_warm
        from .rare_words import frequencies

        units_warm()
        frequencies()  # the word-frequency tables (~0.3 s), read by ``compose.unknown_subjects``
    except Exception:  # noqa: BLE001 (a worker must start even without a knowledge base)
        import logging

        logging.getLogger(__name__).exception("agent: answer units warm-up failed")
