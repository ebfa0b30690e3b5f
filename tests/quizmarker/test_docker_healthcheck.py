"""docker/healthcheck.py's worker check against a real worker on a Redis of the test's own: healthy while it consumes,
unhealthy once it answers pings but consumes no queue (alive but no longer consuming)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from quizmarker.celery import app
from tests.helpers import ROOT
from tests.reliability.support import worker_on_private_redis

pytestmark = [pytest.mark.worker]


@pytest.fixture
def lone_worker(celery_worker, tmp_path, live_db):
    with worker_on_private_redis(celery_worker, tmp_path, "health", concurrency=1) as (_, worker):
        yield worker


def healthcheck(worker, tmp_path) -> tuple[int, str]:
    import socket

    env = dict(
        worker.env, HEALTHCHECK_WORKER_NAME=f"{worker.name}@{socket.gethostname()}", HEALTHCHECK_STATE_DIR=str(tmp_path)
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "healthcheck.py"), "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout.strip()


def test_the_worker_check_notices_a_worker_that_answers_but_no_longer_consumes(lone_worker, tmp_path):
    code, said = healthcheck(lone_worker, tmp_path)
    assert code == 0, said
    assert said.startswith("healthy:") and "consume their queues" in said

    node = f"{lone_worker.name}@"
    destination = [name for reply in app.control.ping(timeout=2) for name in reply if name.startswith(node)]
    for queue in ("high", "default", "low"):
        app.control.cancel_consumer(queue, destination=destination, reply=True)

    code, said = healthcheck(lone_worker, tmp_path)
    assert code == 1, said
    assert said == f"unhealthy: {destination[0]} answers but consumes no queue"
    assert lone_worker.process.poll() is None, "without HEALTHCHECK_STOP_STALLED the check only reports"
