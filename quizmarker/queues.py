"""The Celery queues, and the kinds of worker that consume them, named here once; settings, the Celery app, the job
engine, webhooks, the health check and the worker launcher (``python -m quizmarker.worker ROLE``, which the Procfile
and docker/compose.yml run) import them.

- ``high``: housekeeping that keeps the system healthy (sweeper, reaper, retention, alerts), on ``worker``;
- ``default``: reading and grading, and anything else that may call the AI provider, on ``ai-worker`` (threads);
- ``low``: email and webhook deliveries, on ``worker``.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGH = "high"
DEFAULT = "default"
LOW = "low"
ALL = (HIGH, DEFAULT, LOW)

# By module, for tasks sent without a queue of their own. A job's task is always published to its job type's queue
# (jobs.registry.QUEUES), so it needs no route here.
ROUTES = {
    "jobs.tasks.*": {"queue": HIGH},  # housekeeping: sweeper, reaper, cleanup
    "integrations.tasks.*": {"queue": LOW},  # webhook deliveries
    "quizmarker.celery.*": {"queue": HIGH},
}


@dataclass(frozen=True)
class WorkerRole:
    """A kind of worker: what it consumes and how it runs (`python -m quizmarker.worker ROLE` starts one)."""

    node: str  # its node name before the @ (``node@%h``)
    queues: tuple[str, ...]
    pool: str
    concurrency_setting: str  # the setting (an environment variable of the same name) saying how many tasks at once
    database_pool: bool  # forked processes must not share a pool: a prefork worker keeps one connection per process


WORKERS = {
    # Reading and grading on threads: a job mostly waits for AI calls, and waiting threads share one process.
    "ai": WorkerRole("ai", (DEFAULT,), "threads", "AI_WORKER_THREADS", database_pool=True),
    # Housekeeping, email and webhooks in processes: Celery enforces their time limits, and a crash loses one task.
    "housekeeping": WorkerRole("worker", (HIGH, LOW), "prefork", "WORKER_CONCURRENCY", database_pool=False),
}
