"""Container health checks, for the Dockerfile's HEALTHCHECK and compose.yml's `healthcheck:`.

    python /app/docker/healthcheck.py web      # gunicorn on 127.0.0.1:8000 answers HTTP
    python /app/docker/healthcheck.py flower   # Flower on 127.0.0.1:5555 answers HTTP
    python /app/docker/healthcheck.py worker   # the Celery worker of this container answers a ping

Exit status 0 means healthy, 1 unhealthy; one line says why.

The web check asks "does the process serve HTTP?", not "is everything up?": GET /health is liveness (200 from any
process that serves; it checks nothing else), so a broker or worker outage does not make web unhealthy. A redirect
(with DEBUG off and no TLS proxy, SecurityMiddleware may redirect to https) and a 4xx (e.g. an ALLOWED_HOSTS that
leaves out 127.0.0.1) count as answers too. A 5xx (an exception before the view, such as the database being
unreachable for the host lookup) or no answer at all is unhealthy. (GET /health/ready is the detailed readiness
report, for monitoring with HEALTH_TOKEN.)
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import sys
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
    replies = app.control.ping(timeout=5.0)
    names = sorted(name for reply in replies for name in reply)
    # Node names are <name>@<hostname> (celery@%h by default); any worker in this container will do.
    mine = [name for name in names if name.rpartition("@")[2] == me]
    if mine:
        return True, f"{', '.join(mine)} answered"
    return False, f"no worker of host {me} answered (answers from: {', '.join(names) or 'none'})"


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
