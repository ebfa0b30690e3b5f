"""The queue names are written once (quizmarker/queues.py); the process definitions, which cannot import them, name
exactly those queues between them, so no queue is left without a worker and no worker waits on a queue nobody uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from quizmarker import queues

ROOT = Path(__file__).resolve().parents[2]


def consumed_queues(text: str) -> list[str]:
    """Every queue a `celery worker -Q a,b` in ``text`` consumes (in a Procfile line or a compose command list)."""
    lists = re.findall(r'-Q"?,?\s*"?([a-z,]+)', text)
    return [name for names in lists for name in names.split(",")]


@pytest.mark.parametrize("path", ["Procfile", "docker/compose.yml"])
def test_the_workers_consume_every_queue_and_only_those(path):
    consumed = consumed_queues((ROOT / path).read_text())
    assert sorted(consumed) == sorted(queues.ALL), f"{path} names {consumed}; quizmarker/queues.py has {queues.ALL}"


def test_every_route_sends_to_a_named_queue(settings):
    assert settings.CELERY_TASK_DEFAULT_QUEUE in queues.ALL
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} <= set(queues.ALL)
