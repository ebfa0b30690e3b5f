"""GET /health: is the database, the broker and at least one worker up? 200 when all are, 503 naming what is down."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

QUEUES = ("high", "default", "low")


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _check_broker() -> dict:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    return {"ok": True, "queues": {name: client.llen(f"{prefix}{name}") for name in QUEUES}}


def _check_workers() -> dict:
    from quizmarker.celery import app

    replies = app.control.ping(timeout=1.0)
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "workers": names, **({} if names else {"error": "no Celery worker answered"})}


def _check_jobs() -> dict:
    from jobs.services import queue_health

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


@never_cache
@require_GET
def health(request):
    checks = run_checks()
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)
