"""Helpers for the jobs tests: job rows made directly with the ORM, the broker's default queue in Redis, and a media
folder of the test's own."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from jobs.fairness import queue_keys


@pytest.fixture
def only_this_tests_jobs(db, personas):
    """Alpha and Beta with none of the jobs that other tests committed (worker tests do): they are deleted inside this
    test's transaction, so no one else sees it. Tests that count an organization's jobs through the API then count
    their own, whatever ran before them."""
    from jobs.models import BackgroundJob

    BackgroundJob.objects.filter(organization__in=[personas.alpha, personas.beta]).delete()


@pytest.fixture
def make_job(personas):
    """Create a BackgroundJob row for Alpha (owned by Alice unless told otherwise)."""
    from jobs.models import BackgroundJob

    def _make_job(**fields):
        fields.setdefault("organization", personas.alpha)
        fields.setdefault("user", personas.alice)
        fields.setdefault("job_type", "extraction")
        fields.setdefault("status", "queued")
        if fields["status"] in ("processing", "completed", "failed", "cancelled"):
            fields.setdefault("started_at", timezone.now() - timedelta(seconds=30))
        if fields["status"] in ("completed", "failed", "cancelled"):
            fields.setdefault("completed_at", timezone.now())
        return BackgroundJob.objects.create(**fields)

    return _make_job


class BrokerQueue:
    """The Redis lists behind Celery's `default` queue for this test run's key prefix (one per message priority)."""

    def __init__(self, name: str = "default"):
        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self.keys = queue_keys(name)

    def __len__(self) -> int:
        return sum(self.client.llen(key) for key in self.keys)

    def task_ids(self) -> list[str]:
        """Every waiting message's task id, in the order a worker would take them."""
        return [
            json.loads(raw)["headers"]["id"] for key in self.keys for raw in reversed(self.client.lrange(key, 0, -1))
        ]

    def clear(self) -> None:
        self.client.delete(*self.keys)


@pytest.fixture
def broker_queue():
    """The default queue, empty at the start and emptied afterwards so no worker ever runs what a test published."""
    queue = BrokerQueue()
    queue.clear()
    yield queue
    queue.clear()
    queue.client.close()


@pytest.fixture
def media_root(settings, tmp_path):
    """MEDIA_ROOT pointed at a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
