"""`make bench ARGS="--mode streams"`: what watching a batch costs the web server, by live stream or by polling.

One batch (a grading session of ``--scripts`` one-page scripts) is uploaded while no worker runs; then ``--watchers``
clients start watching it, then the worker starts, and the phase ends when the batch has finished and every watcher
has seen it finish. Phase 1: each watcher holds GET /api/v1/sessions/<id>/events open (server-sent events). Phase 2:
each watcher polls GET /api/v1/sessions/<id> every 2 s, as pages and older clients do. Both phases run on the web
server the image runs (gunicorn with uvicorn workers); the figures are the web server's CPU seconds during the phase
and its memory (PSS of gunicorn and its workers) at the phase's peak.
"""

from __future__ import annotations

import http.client
import io
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

POLL_SECONDS = 2.0


def _upload(client, page: bytes, fields: dict) -> dict:
    boundary = secrets.token_hex(12)
    body = io.BytesIO()
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="p.png"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    body.write(page + b"\r\n")
    for name, value in {"standard_id": "5", **fields}.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    body.write(f"--{boundary}--\r\n".encode())
    status, reply = client.request(
        "POST", "/api/v1/upload", body.getvalue(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    if status != 202:
        raise SystemExit(f"[bench] upload refused: {status} {reply}")
    return reply["data"]


def make_batch(client, page: bytes, scripts: int) -> str:
    first = _upload(client, page, {"session_label": f"bench watchers {time.time():.0f}"})
    for _ in range(scripts - 1):
        _upload(client, page, {"session_id": first["session_id"]})
    return first["session_id"]


def watch_by_stream(client, session_id: str, done: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)  # a keepalive comes every 15 s
    conn.request(
        "GET", f"/api/v1/sessions/{session_id}/events", headers={**client.headers, "Accept": "text/event-stream"}
    )
    response = conn.getresponse()
    events = 0
    for line in response:
        if line.startswith(b"data: "):
            events += 1
    conn.close()
    done.append(("stream", response.status, events))


def watch_by_polling(client, session_id: str, done: list) -> None:
    time.sleep(secrets.randbelow(2000) / 1000)  # clients do not start in step
    requests, deadline = 0, time.monotonic() + 900
    while time.monotonic() < deadline:
        status, body = client.request("GET", f"/api/v1/sessions/{session_id}")
        requests += 1
        if status == 200 and body["data"]["status"] != "in_progress":
            break
        time.sleep(POLL_SECONDS)
    done.append(("poll", status, requests))


def threads(proc) -> int:
    """OS threads of a process and its children (gunicorn's workers)."""
    import psutil

    root = psutil.Process(proc.pid)
    return sum(p.num_threads() for p in [root, *root.children(recursive=True)])


class PeakMemory:
    """Samples the web server's PSS and its thread count every half second."""

    def __init__(self, proc, memory_mb):
        self.proc, self.memory_mb, self.peak, self._stop = proc, memory_mb, 0.0, threading.Event()
        self.peak_threads = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.memory_mb(self.proc))
            self.peak_threads = max(self.peak_threads, threads(self.proc))
            self._stop.wait(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()


def phase(
    how: str,
    *,
    client,
    page: bytes,
    scripts: int,
    watchers: int,
    web,
    start_worker,
    stop_worker,
    cpu_seconds,
    memory_mb,
) -> dict:
    session_id = make_batch(client, page, scripts)
    done: list = []
    watch = watch_by_stream if how == "stream" else watch_by_polling
    idle_mb, idle_threads = memory_mb(web), threads(web)
    before = cpu_seconds({"web": web})["web"]
    started = time.monotonic()
    with PeakMemory(web, memory_mb) as memory, ThreadPoolExecutor(max_workers=watchers) as pool:
        futures = [pool.submit(watch, client, session_id, done) for _ in range(watchers)]
        time.sleep(3)  # every watcher connected (streams) or polling
        worker = start_worker()
        pool.shutdown(wait=True)
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        print(f"[bench] {len(errors)} watchers failed, first: {errors[0]!r}", flush=True)
    wall = time.monotonic() - started
    cpu = cpu_seconds({"web": web})["web"] - before
    stop_worker(worker)
    answers = [status for _, status, _ in done]
    return {
        "how": how,
        "wall": wall,
        "cpu": cpu,
        "idle_mb": idle_mb,
        "peak_mb": memory.peak,
        "threads": (idle_threads, memory.peak_threads),
        "watchers_done": len(done),
        "bad_answers": sum(1 for status in answers if status != 200),
        "per_watcher": sum(count for _, _, count in done) / max(1, len(done)),
    }


def rows(results: list[dict], scripts: int, watchers: int) -> list[tuple[str, str]]:
    out = []
    for r in results:
        unit = "events" if r["how"] == "stream" else "requests"
        label = "by stream (SSE)" if r["how"] == "stream" else f"polling every {POLL_SECONDS:.0f} s"
        out += [
            (
                f"{watchers} watchers of one {scripts}-script batch, {label}: web CPU seconds / batch wall time",
                f"{r['cpu']:.1f} s / {r['wall']:.1f} s",
            ),
            (
                f"… {label}: web memory (PSS) idle → peak; OS threads idle → peak",
                f"{r['idle_mb']:.0f} MB → {r['peak_mb']:.0f} MB; {r['threads'][0]} → {r['threads'][1]}",
            ),
            (
                f"… {label}: {unit} per watcher; watchers that saw the end; non-200 answers",
                f"{r['per_watcher']:.1f}; {r['watchers_done']} of {watchers}; {r['bad_answers']}",
            ),
        ]
    return out
