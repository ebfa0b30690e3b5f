"""Heartbeats: one thread per process stamps every job running in it, so the reaper (``jobs.housekeeping``) can tell
a job whose worker is gone from one that is only waiting for a long AI call."""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from django.db.models import Q
from django.utils import timezone

from jobs.models import BackgroundJob, JobStatus

logger = logging.getLogger(__name__)


class _Heartbeats:
    """The jobs running in this process, and one thread that stamps all their heartbeats every
    JOB_HEARTBEAT_SECONDS in one UPDATE, whether or not their work reports progress (one AI call may take a minute).

    A job whose heartbeat stops is one whose worker process is gone, even if a new worker now answers under the same
    name: the reaper re-queues it (jobs.housekeeping). One thread and one database connection per process, however
    many jobs its threads pool runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict = {}  # job id -> the task id of the attempt running it here
        self._thread: threading.Thread | None = None

    def _reset_after_fork(self) -> None:  # a prefork pool process starts with none of its parent's jobs or thread
        self.__init__()

    @contextmanager
    def beating(self, job_id, task_id: str):
        with self._lock:
            self._running[job_id] = task_id
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="qm-heartbeats", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _beat(self) -> None:
        while True:
            time.sleep(settings.JOB_HEARTBEAT_SECONDS)
            with self._lock:
                running = dict(self._running)
            if not running:
                connections.close_all()  # no idle connection held while no job runs here
                continue
            attempts = Q()
            for job_id, task_id in running.items():
                attempts |= Q(pk=job_id, celery_task_id=task_id)
            try:
                BackgroundJob.objects.filter(attempts, status=JobStatus.PROCESSING).update(heartbeat_at=timezone.now())
            except Exception as exc:  # noqa: BLE001 - a database outage, say: the jobs meet it too; keep beating
                logger.warning("Could not record the heartbeat of %d job(s): %s", len(running), exc)
                connections.close_all()  # this thread's connection, replaced at the next beat


_heartbeats = _Heartbeats()

os.register_at_fork(after_in_child=_heartbeats._reset_after_fork)

heartbeat = _heartbeats.beating
