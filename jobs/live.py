"""Live job updates: the job engine publishes every progress, step and status change on Redis pub/sub once its
transaction commits; the event streams (jobs/streams.py) forward them to whoever watches.

Publishing starts in one place, ``jobs.models.JobQuerySet``: every write of a job's status, progress or step is an
UPDATE through it (the engine's conditional updates, the reaper's, cancelling), and every new job a create. Each
change is published after commit with the job as the API shows it (jobs.serializers.JobSerializer), so a watcher
never reads the database to follow a job. A publish that fails (Redis down) is logged and dropped: a watcher's
stream then ends and the page falls back to polling; the job is never affected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

logger = logging.getLogger(__name__)

_client: redis.Redis | None = None


def channel_prefix() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:jobs:events:"


def job_channel(job_id) -> str:
    return f"{channel_prefix()}job:{job_id}"


def session_channel(session_id) -> str:
    return f"{channel_prefix()}session:{session_id}"


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    return _client


def changed(job_ids: Iterable, status: str | None = None) -> None:
    """Publish these jobs' current state once the surrounding transaction commits (at once in autocommit); with
    ``status``, the status they were moved to, which is also counted for the metrics."""
    ids = list(job_ids)
    if ids:
        transaction.on_commit(lambda: publish_changes(ids, status), robust=True)


def publish_changes(job_ids: list, status: str | None = None) -> int:
    """Publish each job; for a job in a session, on its session's channel too, with the session's count of jobs still
    active when ``status`` changed (the only change that can move that count: a progress tick carries none, and a
    session stream ends only on a count of 0). Returns how many messages went out."""
    from jobs.models import ACTIVE_STATUSES, BackgroundJob
    from jobs.serializers import JobSerializer
    from quizmarker import metrics

    jobs = BackgroundJob.objects.filter(pk__in=job_ids)
    if status:  # the metrics' organization label, and the session's active jobs counted in the same statement
        active = BackgroundJob.objects.filter(session_id=OuterRef("session_id"), status__in=ACTIVE_STATUSES)
        counted = active.order_by().values("session_id").annotate(n=Count("pk")).values("n")
        jobs = jobs.select_related("organization").annotate(
            session_active_jobs=Coalesce(Subquery(counted, output_field=IntegerField()), 0)
        )
    jobs = list(jobs)
    if status:
        for job in jobs:
            metrics.job_status_changed(job, status)
    sent = 0
    try:
        client = _redis()
        for job in jobs:
            message = {"job": JobSerializer(job).data}
            client.publish(job_channel(job.pk), json.dumps(message))
            sent += 1
            if job.session_id:
                if status:
                    message["session_active_jobs"] = job.session_active_jobs
                client.publish(session_channel(job.session_id), json.dumps(message))
                sent += 1
    except redis.RedisError as exc:
        logger.warning("Live job updates not published (Redis unavailable): %s", exc)
    return sent
