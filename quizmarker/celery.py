"""The Celery app. tenant-schemas-celery's CeleryApp stamps every message with the sender's schema and switches the
worker's connection to it, so a task sent while serving an organization runs inside that organization's schema."""

from __future__ import annotations

import logging
import os
import socket

from celery import signals
from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizmarker.settings")

logger = logging.getLogger(__name__)

app = CeleryApp("quizmarker")
app.config_from_object("django.conf:settings", namespace="CELERY")
# high: housekeeping that keeps the system healthy; default: extraction and grading; low: email and webhooks.
app.conf.task_queues = tuple(Queue(name) for name in ("high", "default", "low"))
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


@app.task(name="quizmarker.celery.whoami")
def whoami() -> dict:
    """Which schema and host a task runs in: used by ops (and tests) to check tenant routing end to end."""
    from django.db import connection

    return {"schema": connection.schema_name, "hostname": socket.gethostname(), "pid": os.getpid()}
