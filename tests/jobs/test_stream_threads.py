"""A held-open event stream holds no thread of the web server: 30 watchers of one job on the ASGI server as `make run`
starts it (one uvicorn worker) cost no thread each, and every one of them still gets the change published afterwards.

Without ``jobs.streams.RequestThreads`` each open stream keeps the (idle) thread Django gave its request: 4 threads
before, 34 with the 30 streams open."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import requests

from jobs.cancel_retry import cancel_job
from tests.helpers import api_key

WATCHERS = 30
# The uvicorn worker's own threads (the event loop, the default executor's few for thread_sensitive=False calls,
# psycopg's pool workers) plus a few middleware passes at once; one thread per open stream would be 30 more.
EXTRA_THREADS_ALLOWED = 6


def worker_threads(web_server) -> int:
    """OS threads of the web server: `sh`, gunicorn and its uvicorn worker."""
    root = psutil.Process(web_server.process.pid)
    return sum(process.num_threads() for process in [root, *root.children(recursive=True)])


def watch(web_server, organization, job_id, token, first_event: threading.Barrier, events: list) -> None:
    headers = {"Host": organization.host, "Accept": "text/event-stream", "Authorization": f"Token {token}"}
    with requests.get(
        f"{web_server.url}/api/v1/jobs/{job_id}/events", headers=headers, stream=True, timeout=30
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :])["status"])
                if len(events) == 1:
                    first_event.wait(timeout=60)


def test_thirty_open_streams_hold_no_thread_each_and_all_get_the_next_change(web_server, make_job, personas, live_db):
    job = make_job(status="queued")
    token = api_key(personas.alice, personas.alpha)
    baseline = worker_threads(web_server)
    first_event = threading.Barrier(WATCHERS + 1)
    events: list[list[str]] = [[] for _ in range(WATCHERS)]
    with ThreadPoolExecutor(WATCHERS) as clients:
        watching = [
            clients.submit(watch, web_server, personas.alpha, job.pk, token, first_event, events[n])
            for n in range(WATCHERS)
        ]
        first_event.wait(timeout=60)  # every stream is open and has sent the job as it is now
        deadline, held = time.monotonic() + 10, worker_threads(web_server)
        while held > baseline + EXTRA_THREADS_ALLOWED and time.monotonic() < deadline:
            time.sleep(0.2)
            held = worker_threads(web_server)
        print(f"threads: {baseline} before, {held} with {WATCHERS} streams open")
        assert cancel_job(job, by=personas.alice) is True
        for future in watching:
            future.result(timeout=30)
    assert events == [["queued", "cancelled"]] * WATCHERS
    assert held <= baseline + EXTRA_THREADS_ALLOWED, f"{held} threads with {WATCHERS} streams open, {baseline} before"
