from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Celery workers load the embedding model once at start, not on the first customer message.
        # (Web processes warm up lazily: loading costs ~1.5 s and most manage.py commands never embed.)
        from celery.signals import worker_process_init
        from django.core import checks

        worker_process_init.connect(_warm_up, weak=False, dispatch_uid="knowledge_warm_up")
        checks.register(_check_shared_vector_store, checks.Tags.database, deploy=True)


def _check_shared_vector_store(app_configs=None, **kwargs):
    """Production runs several processes (web processes, workers): they must share one vector store.
    The embedded store (one folder opened by each process) breaks there: a document ingested by a
    worker made copilot searches in a web process fail until it restarted."""
    from django.conf import settings
    from django.core.checks import Warning

    if getattr(settings, "DATABASE_URL", None) and not getattr(settings, "CHROMA_URL", None):
        return [Warning("CHROMA_URL is not set: every process would open its own embedded vector store.",
                        hint="Run the chromadb server (`chroma run --path DIR --port 8001`) and set "
                             "CHROMA_URL=http://host:8001 for every web process and worker.",
                        id="knowledge.W001")]
    return []


def _warm_up(**kwargs):
    from .embeddings import warm_up

    try:
        warm_up()
    except Exception:  # noqa: BLE001 (a worker must start even if the model cannot load; ingest reports it)
        import logging

        logging.getLogger(__name__).exception("knowledge: embedding model warm-up failed")
