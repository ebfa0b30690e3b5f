"""The queue names are written once (quizmarker/queues.py), with the kinds of worker that consume them; the process
definitions start their workers through `python -m quizmarker.worker ROLE`, so no command line spells a queue, no
queue is left without a worker and no worker waits on a queue nobody uses."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from quizmarker import queues
from quizmarker.celery import app

ROOT = Path(__file__).resolve().parents[2]
LAUNCHERS = ["Procfile", "docker/compose.yml"]


def launched_roles(text: str) -> list[str]:
    """The role of every `python -m quizmarker.worker ROLE` in ``text`` (a Procfile line or a compose command list)."""
    return re.findall(r'python"?,? "?-m"?,? "?quizmarker\.worker"?,? "?([a-z-]+)', text)


def test_the_roles_consume_every_queue_once_and_only_those():
    consumed = [name for role in queues.WORKERS.values() for name in role.queues]
    assert sorted(consumed) == sorted(queues.ALL)


@pytest.mark.parametrize("path", LAUNCHERS)
def test_the_launchers_start_every_role_through_the_entry_point_and_name_no_queue(path):
    text = (ROOT / path).read_text()
    assert sorted(launched_roles(text)) == sorted(queues.WORKERS), f"{path} starts {launched_roles(text)}"
    assert not re.search(r"-Q\b|--queues", text), f"{path} names queues itself"
    assert not re.search(r'celery"?,? "?-A"?,? "?quizmarker"?,? "?worker', text), f"{path} starts celery worker itself"


def test_every_route_sends_to_a_named_queue(settings):
    assert settings.CELERY_TASK_DEFAULT_QUEUE in queues.ALL
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} <= set(queues.ALL)


@pytest.mark.parametrize(
    ("role", "setting", "expected_queues", "pool"),
    [
        ("ai", "AI_WORKER_THREADS", ["default"], "celery.concurrency.thread:TaskPool"),
        ("housekeeping", "WORKER_CONCURRENCY", ["high", "low"], "celery.concurrency.prefork:TaskPool"),
    ],
)
def test_the_entry_point_starts_a_worker_of_its_role(live_db, role, setting, expected_queues, pool):
    from tests.conftest import WorkerProcess, worker_env

    worker = WorkerProcess(worker_env({setting: "3"}), name=f"role-{role}-{os.getpid()}", role=role)
    worker.start()  # returns once the worker answered a ping
    node = f"{worker.name}@{socket.gethostname()}"
    try:
        inspect = app.control.inspect(destination=[node], timeout=5)
        assert sorted(queue["name"] for queue in inspect.active_queues()[node]) == expected_queues
        stats = inspect.stats()[node]
        assert (stats["pool"]["implementation"], stats["pool"]["max-concurrency"]) == (pool, 3)
    finally:
        worker.stop()


def test_a_housekeeping_worker_keeps_no_database_pool_whatever_the_environment_says(live_db):
    # Its processes are forked: they must not share a pool. The role's queues are overridden here (arguments after
    # the role win) so that the task reaches this worker and no other.
    from quizmarker.celery import whoami
    from tests.conftest import WorkerProcess, worker_env

    queue = f"role-pool-{os.getpid()}"
    worker = WorkerProcess(
        worker_env({"DATABASE_POOL": "true"}), name=queue, role="housekeeping", arguments=("-Q", queue)
    )
    worker.start()
    try:
        assert whoami.apply_async(queue=queue).get(timeout=30)["database_pool_max_size"] is None
    finally:
        worker.stop()
