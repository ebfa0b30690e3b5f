"""The Celery app. tenant-schemas-celery's CeleryApp stamps every message with the sender's schema and switches the
worker's connection to it, so a task sent while serving an organization runs inside that organization's schema."""

from __future__ import annotations

import logging
import os
import socket

from celery import signals
from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

from quizmarker import queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizmarker.settings")

logger = logging.getLogger(__name__)

app = CeleryApp("quizmarker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(Queue(name) for name in queues.ALL)  # what each is for: quizmarker/queues.py
app.autodiscover_tasks()


@signals.worker_init.connect
def preload_pipeline(**kwargs) -> None:
    """Import the pipeline and its providers (openai, OpenCV, onnxruntime) and read the reference library once in the
    worker's parent process, so the forked pool processes share them instead of each paying for them on its first
    job."""
    import tenant_schemas_celery.compat  # noqa: F401

    import grading.marking  # noqa: F401
    import grading.providers.local  # noqa: F401
    import grading.reading  # noqa: F401
    from grading.providers import openai_provider
    from grading.standards import load_library

    openai_provider.warm_up()
    try:
        load_library()
    except Exception:  # a broken PDF or an unreachable cache must not keep the worker from starting
        logger.exception("Could not preload the reference library; jobs will read it when they need it")


# Connections a threads worker keeps beyond one per job thread: the heartbeat, the consumer's own work, the sweeper.
POOL_SPARE_CONNECTIONS = 4


@signals.worker_init.connect
def size_database_pool(sender=None, **kwargs) -> None:
    """A threads worker runs ``--concurrency`` jobs at once and each holds a database connection while it runs, so its
    pool gets one connection per thread plus POOL_SPARE_CONNECTIONS, whatever the command line says: a pool smaller
    than the threads makes jobs queue for a connection (a 10-connection pool under 24 threads added ~2 s of waiting to
    a 20-script batch). DATABASE_POOL_MAX_SIZE, when set, still wins. Prefork workers keep no pool (see settings)."""
    from django.conf import settings
    from django.db import connection

    if not settings.DATABASE_POOL or "DATABASE_POOL_MAX_SIZE" in os.environ or not sender.concurrency:
        return
    if "thread" not in str(getattr(sender.pool_cls, "__module__", sender.pool_cls)):
        return
    pool = connection.pool  # created closed; the first job opens it
    pool.resize(min_size=pool.min_size, max_size=sender.concurrency + POOL_SPARE_CONNECTIONS)
    logger.info("Database pool: up to %d connections for %d threads", pool.max_size, sender.concurrency)


@signals.worker_init.connect
def reserve_threads_for_other_organizations(sender=None, **kwargs) -> None:
    """A threads worker keeps a reserve of its threads from any one organization's jobs (jobs.fairness.worker_turn)."""
    from jobs import fairness

    if sender is not None and sender.concurrency and "thread" in str(getattr(sender.pool_cls, "__module__", "")):
        fairness.set_worker_threads(int(sender.concurrency))


@app.task(name="quizmarker.celery.whoami")
def whoami() -> dict:
    """Which schema and host a task runs in, and the connections its process may hold: used by ops (and tests) to
    check tenant routing and the worker's setup end to end."""
    from django.db import connection

    pool = connection.pool
    return {
        "schema": connection.schema_name,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "database_pool_max_size": pool.max_size if pool is not None else None,
    }
