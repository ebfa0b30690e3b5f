"""Celery (broker, queues, routes) and the job engine's retries, limits, retention and alerts."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from quizmarker import queues
from quizmarker.env import env_float, env_int, env_str
from quizmarker.settings.database import REDIS_KEY_PREFIX, REDIS_URL

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# kombu's Redis transport with a workaround for an upstream bug that killed workers when Redis went away while they
# ran a job (quizmarker/broker.py says which, and how to tell when it can go).
CELERY_BROKER_TRANSPORT = "quizmarker.broker:Transport"
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES_SECONDS", 7 * 24 * 3600, minimum=60)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# The longest task (grading) may run 1800 s, and a retry may wait up to JOB_RETRY_BACKOFF_MAX; Redis hands an
# unacknowledged message to another worker after the visibility timeout, so it must exceed both or a task runs twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 3600, minimum=1900)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:",
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
    # One list per priority step and queue, the lowest number served first (kombu's default steps, stated because
    # jobs.fairness publishes a busy organization's jobs at the lower ones and counts what waits in each list).
    "priority_steps": [0, 3, 6, 9],
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
# Acknowledge a message only after the task finished, so a worker that dies mid-task leaves the message to be
# delivered again instead of losing the job.
CELERY_TASK_ACKS_LATE = True
# ...and when the worker process is killed (SIGKILL, OOM), reject the message back to the queue at once rather than
# acknowledging it as failed.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process reserves one message at a time: long jobs are not hoarded by a busy process while others idle,
# and a crash strands at most one message.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Replace a worker process after a number of tasks, bounding memory growth from image work.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 200, minimum=1)
# Publishing must not hang a web request when Redis is down: fail fast, the sweeper publishes later.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # workers keep reconnecting through a broker outage
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_SEND_TASK_EVENTS = True  # Flower shows tasks live
CELERY_TASK_SEND_SENT_EVENT = True
# Tasks at once per worker of each role (quizmarker.queues.WORKERS, started by `python -m quizmarker.worker ROLE`).
AI_WORKER_THREADS = env_int("AI_WORKER_THREADS", 24, minimum=1)
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 2, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT
CELERY_TASK_ROUTES = queues.ROUTES
CELERY_TASK_TENANT_CACHE_SECONDS = 30

# --- Jobs -------------------------------------------------------------------------------------
# Two-step retention: a finished job's files and input/result go after JOB_EXPIRY_HOURS; its row, its log and its
# session stay JOB_HISTORY_DAYS (for history, statistics and session logs). The usage ledger is never removed.
JOB_EXPIRY_HOURS = env_int("JOB_EXPIRY_HOURS", 24, minimum=1)
JOB_HISTORY_DAYS = env_int("JOB_HISTORY_DAYS", 90, minimum=1)
if JOB_HISTORY_DAYS * 24 < JOB_EXPIRY_HOURS:
    raise ImproperlyConfigured("JOB_HISTORY_DAYS must cover at least JOB_EXPIRY_HOURS: files go before the job's row.")
JOB_MAX_RETRIES = env_int("JOB_MAX_RETRIES", 3, minimum=0)
JOB_RETRY_BACKOFF_BASE = env_float("JOB_RETRY_BACKOFF_BASE", 5.0, minimum=0)
JOB_RETRY_BACKOFF_MAX = env_float("JOB_RETRY_BACKOFF_MAX", 300.0, minimum=0)
# (soft, hard) time limits in seconds per job type; the soft limit lets the job record a clear failure.
JOB_TIME_LIMITS = {
    "extraction": (
        env_int("JOB_EXTRACTION_SOFT_LIMIT", 840, minimum=1),
        env_int("JOB_EXTRACTION_LIMIT", 900, minimum=2),
    ),
    "grading": (env_int("JOB_GRADING_SOFT_LIMIT", 1740, minimum=1), env_int("JOB_GRADING_LIMIT", 1800, minimum=2)),
    "email": (env_int("JOB_EMAIL_SOFT_LIMIT", 100, minimum=1), env_int("JOB_EMAIL_LIMIT", 120, minimum=2)),
    "scheme_import": (
        env_int("JOB_SCHEME_IMPORT_SOFT_LIMIT", 840, minimum=1),
        env_int("JOB_SCHEME_IMPORT_LIMIT", 900, minimum=2),
    ),
}
# A queued job whose message was never published (broker down) is published again after this many seconds.
JOB_SWEEP_AFTER_SECONDS = env_int("JOB_SWEEP_AFTER_SECONDS", 30, minimum=1)
# A running job's heartbeat is stamped this often; the reaper re-queues a job silent for JOB_SILENT_AFTER_SECONDS.
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 20.0, minimum=0.1)
JOB_SILENT_AFTER_SECONDS = env_int("JOB_SILENT_AFTER_SECONDS", 90, minimum=1)
if JOB_SILENT_AFTER_SECONDS < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "JOB_SILENT_AFTER_SECONDS must be at least 3 times JOB_HEARTBEAT_SECONDS, or the reaper would re-queue jobs "
        "that are still running."
    )

# --- Alerts (jobs/alerts.py: checked every minute by beat; super admins emailed on open and on resolve) ----------
ALERT_WINDOW_MINUTES = env_int("ALERT_WINDOW_MINUTES", 60, minimum=1)  # the window of the two rates below
ALERT_MIN_SAMPLES = env_int("ALERT_MIN_SAMPLES", 10, minimum=1)  # a rate counts once this many jobs/calls are in it
ALERT_FAILURE_RATE = env_float("ALERT_FAILURE_RATE", 0.2, minimum=0)  # failed ÷ (completed + failed) jobs
ALERT_PROVIDER_ERROR_RATE = env_float("ALERT_PROVIDER_ERROR_RATE", 0.2, minimum=0)  # failed ÷ all AI calls
ALERT_QUEUE_AGE_SECONDS = env_int("ALERT_QUEUE_AGE_SECONDS", 600, minimum=1)  # the oldest queued job's wait
ALERT_BUDGET_FRACTION = env_float("ALERT_BUDGET_FRACTION", 0.9, minimum=0)  # of an organization's monthly AI budget
