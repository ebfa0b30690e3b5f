"""Container health checks, for the Dockerfile's HEALTHCHECK and compose.yml's `healthcheck:`.

    python /app/docker/healthcheck.py web      # gunicorn on 127.0.0.1:8000 answers HTTP
    python /app/docker/healthcheck.py flower   # Flower on 127.0.0.1:5555 answers HTTP
    python /app/docker/healthcheck.py worker   # the Celery worker of this container answers and consumes

Exit status 0 means healthy, 1 unhealthy; one line says why.

The web check asks "does the process serve HTTP?", not "is everything up?": GET /health is liveness (200 from any
process that serves; it checks nothing else), so a broker or worker outage does not make web unhealthy. A redirect
(with DEBUG off and no TLS proxy, SecurityMiddleware may redirect to https) and a 4xx (e.g. an ALLOWED_HOSTS that
leaves out 127.0.0.1) count as answers too. A 5xx (an exception before the view, such as the database being
unreachable for the host lookup) or no answer at all is unhealthy. (GET /health/ready is the detailed readiness
report, for monitoring with HEALTH_TOKEN.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
HTTP_TIMEOUT = 8.0  # the HEALTHCHECK timeout is 10 s


def http_status(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def check_web() -> tuple[bool, str]:
    port = int(os.environ.get("HEALTHCHECK_PORT") or 8000)
    # The Host header is 127.0.0.1:<port>: 127.0.0.1 is in the default ALLOWED_HOSTS and always a public host, so the
    # request reaches the public site's /health. X-Forwarded-Proto is trusted by gunicorn from 127.0.0.1 (its default
    # forwarded_allow_ips), so Django sees a secure request and answers instead of redirecting to https.
    status = http_status(port, "/health", {"X-Forwarded-Proto": "https"})
    return status < 500, f"GET /health answered {status}"


def check_flower() -> tuple[bool, str]:
    port = int(os.environ.get("HEALTHCHECK_PORT") or 5555)
    status = http_status(port, "/healthcheck", {})  # 401 when --basic-auth is on: still an answer
    return status < 500, f"Flower answered {status}"


# A worker that is alive but no longer consuming: it answers pings, yet consumes no queue, or messages wait in its
# queues while it has free slots and starts nothing for this long.
STALL_SECONDS = float(os.environ.get("HEALTHCHECK_STALL_SECONDS") or 180)
STATE_DIR = Path(os.environ.get("HEALTHCHECK_STATE_DIR") or "/tmp")


def _stalled_for(node: str, idle_with_backlog: bool, tasks_seen: int) -> float:
    """How long the worker has had waiting messages and free slots without taking a task (0: it is not stalled).
    Kept between checks in a small file, since each check is a new process."""
    state = STATE_DIR / f"qm-health-{re.sub(r'[^A-Za-z0-9_.-]', '_', node)}.json"
    if not idle_with_backlog:
        state.unlink(missing_ok=True)
        return 0.0
    now = time.time()
    try:
        seen = json.loads(state.read_text())
    except (OSError, ValueError):
        seen = {}
    if seen.get("tasks_seen") != tasks_seen:
        state.write_text(json.dumps({"tasks_seen": tasks_seen, "since": now}))
        return 0.0
    return now - float(seen["since"])


def _waiting_messages(queues: list[str]) -> int:
    import redis
    from django.conf import settings

    from jobs.fairness import queue_keys

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        return sum(client.llen(key) for queue in queues for key in queue_keys(queue))
    finally:
        client.close()


def check_worker() -> tuple[bool, str]:
    # Docker runs health checks without the entrypoint, so drop here too the values that Compose took from comments
    # in .env (`NAME=   # comment`); docker/entrypoint.sh explains.
    for name, value in list(os.environ.items()):
        if re.match(r"#\s", value):
            del os.environ[name]
    sys.path.insert(0, str(APP_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizmarker.settings")
    from quizmarker.celery import app

    me = socket.gethostname()
    only = os.environ.get("HEALTHCHECK_WORKER_NAME")  # one node name (tests); else every worker of this host
    replies = app.control.ping(timeout=5.0)
    names = sorted(name for reply in replies for name in reply)
    # Node names are <name>@<hostname> (celery@%h by default); any worker in this container will do.
    mine = [name for name in names if (name == only if only else name.rpartition("@")[2] == me)]
    if not mine:
        return False, f"no worker of host {me} answered (answers from: {', '.join(names) or 'none'})"
    inspect = app.control.inspect(destination=mine, timeout=5.0)
    consuming = inspect.active_queues() or {}
    running = inspect.active() or {}
    stats = inspect.stats() or {}
    problems = []
    for node in mine:
        queues = [queue["name"] for queue in consuming.get(node) or []]
        if not queues:
            problems.append(f"{node} answers but consumes no queue")
            continue
        slots = int((stats.get(node) or {}).get("pool", {}).get("max-concurrency") or 1)
        busy = len(running.get(node) or [])
        tasks_seen = sum(((stats.get(node) or {}).get("total") or {}).values())
        waiting = _waiting_messages(queues) if busy < slots else 0
        stalled = _stalled_for(node, waiting > 0, tasks_seen)
        if stalled >= STALL_SECONDS:
            problems.append(
                f"{node} has {slots - busy} free slot(s) and {waiting} message(s) waiting in {', '.join(queues)}, "
                f"but has taken no task for {stalled:.0f} s"
            )
    if problems:
        if os.environ.get("HEALTHCHECK_STOP_STALLED", "").lower() in ("1", "true", "yes"):
            # Docker does not restart an unhealthy container by itself: stop the stalled worker (warm shutdown, so
            # running jobs finish), and the container's restart policy starts a fresh one.
            for node in mine:
                pid = (stats.get(node) or {}).get("pid")
                if pid and any(problem.startswith(node) for problem in problems):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGTERM)
                        problems.append(f"sent SIGTERM to {node} (pid {pid}) so that it restarts")
        return False, "; ".join(problems)
    return True, f"{', '.join(mine)} answered and consume their queues"


CHECKS = {"web": check_web, "flower": check_flower, "worker": check_worker}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: healthcheck.py {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    try:
        healthy, detail = CHECKS[argv[0]]()
    except Exception as exc:  # any failure to get an answer is "unhealthy", said in one line
        healthy, detail = False, f"{type(exc).__name__}: {exc}"
    print(f"{'healthy' if healthy else 'unhealthy'}: {detail}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
