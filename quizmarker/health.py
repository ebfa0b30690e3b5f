"""Two health answers:

* GET /health, liveness: "this process serves HTTP". Public, fast, no details and no round trip to any service, so a
  load balancer or container check asking every few seconds costs nothing and learns nothing about the inside.
* GET /health/ready, readiness: is the database, the broker and at least one worker up, and how long are the queues?
  200 when all are, 503 naming what is down. For a signed-in super admin, or with ``Authorization: Bearer
  <HEALTH_TOKEN>`` (monitoring); anyone else gets 403. The report is kept HEALTH_CACHE_SECONDS per process, so
  asking often does not ping the workers each time.
"""

from __future__ import annotations

import hmac
import threading
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from jobs.fairness import queue_keys
from quizmarker import queues


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _check_broker() -> dict:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()
    return {"ok": True, "queues": {name: sum(client.llen(key) for key in queue_keys(name)) for name in queues.ALL}}


def _check_workers() -> dict:
    from quizmarker.celery import app

    replies = app.control.ping(timeout=1.0)
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "workers": names, **({} if names else {"error": "no Celery worker answered"})}


def _check_jobs() -> dict:
    from jobs.stats import queue_health

    return {"ok": True, **queue_health()}


CHECKS = {"database": _check_database, "broker": _check_broker, "workers": _check_workers, "jobs": _check_jobs}


def run_checks() -> dict:
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        if name == "workers" and not results["broker"]["ok"]:
            results[name] = {"ok": False, "error": "unknown: workers cannot be asked while the broker is down", "ms": 0}
            continue
        started = time.monotonic()
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports failures, it never raises them
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return results


_report_lock = threading.Lock()
_report: tuple[float, dict] | None = None  # (when it was made: time.monotonic(), the report)


def readiness_report() -> dict:
    """The checks' results and what is down, made at most once every HEALTH_CACHE_SECONDS in this process."""
    global _report
    with _report_lock:
        if _report is not None and time.monotonic() - _report[0] < settings.HEALTH_CACHE_SECONDS:
            return _report[1]
        checks = run_checks()
        down = [name for name, result in checks.items() if not result["ok"]]
        report = {
            "status": "ok" if not down else "down",
            "down": down,
            "processing": "paused" if not checks["broker"]["ok"] else "running",
            "checks": checks,
        }
        _report = (time.monotonic(), report)
        return report


def _may_read_report(request) -> bool:
    if request.user.is_authenticated and request.user.is_superuser:
        return True
    token = settings.HEALTH_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@never_cache
@require_GET
def health(request):
    """Liveness: the process answers. Nothing else is checked or said."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    if not _may_read_report(request):
        return JsonResponse(
            {
                "status": "forbidden",
                "error": "The readiness report is for super admins (sign in) or monitoring with "
                "`Authorization: Bearer <HEALTH_TOKEN>`. GET /health says whether this process is up.",
            },
            status=403,
        )
    report = readiness_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
