from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Celery workers load the embedding model once at start, not on the first customer message.
        # (Web processes warm up lazily: loading costs ~1.5 s and most manage.py commands never embed.)
        from celery.signals import worker_process_init

        worker_process_init.connect(_warm_up, weak=False, dispatch_uid="knowledge_warm_up")


def _warm_up(**kwargs):
    from .embeddings import warm_up

    try:
        warm_up()
    except Exception:  # noqa: BLE001 (a worker must start even if the model cannot load; ingest reports it)
        import logging

        logging.getLogger(__name__).exception("knowledge: embedding model warm-up failed")
