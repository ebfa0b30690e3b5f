"""The Celery queues, named here once; settings, the Celery app, the job engine, webhooks and the health check import
them. (The Procfile, docker/compose.yml and the test workers name them on their command lines, which cannot import.)

- ``high``: housekeeping that keeps the system healthy (sweeper, reaper, retention, alerts), on ``worker``;
- ``default``: reading and grading, and anything else that may call the AI provider, on ``ai-worker`` (threads);
- ``low``: email and webhook deliveries, on ``worker``.
"""

from __future__ import annotations

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
