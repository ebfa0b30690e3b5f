"""A Celery app with nothing of QuizMarker but its broker transport (tests/jobs/test_broker_transport.py): a task
that holds its message unacknowledged (late acks) until the test says go, so the broker can vanish under it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery

app = Celery("broker_app", broker=os.environ["BROKER_APP_URL"])
app.conf.update(
    broker_transport=os.environ.get("BROKER_APP_TRANSPORT") or None,
    broker_transport_options={"global_keyprefix": "broker-app:"},
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
)


@app.task(name="broker_app.hold")
def hold(folder: str, name: str) -> None:
    """Say "started", wait for the test's "go" (a file), then say "done"."""
    folder_path = Path(folder)
    (folder_path / f"{name}.started").touch()
    while not (folder_path / "go").exists():
        time.sleep(0.05)
    (folder_path / f"{name}.done").touch()
