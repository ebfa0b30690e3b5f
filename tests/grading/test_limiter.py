"""The provider limiter on the real Redis: a concurrency cap shared by every caller, slots in turn (grading first),
a waiter that died does not hold the queue, a Retry-After pauses everyone, and a per-minute budget."""

from __future__ import annotations

import threading
import time
import uuid

import redis
from django.conf import settings

from grading.limiter import WAITER_STALE_SECONDS, ProviderLimiter


def limiter(**options) -> ProviderLimiter:
    return ProviderLimiter(f"test-{uuid.uuid4().hex[:8]}", **options)


def test_no_more_calls_at_once_than_the_cap_and_every_call_gets_through():
    shared = limiter(max_concurrent=3)
    lock = threading.Lock()
    now = {"in": 0, "max": 0, "done": 0}

    def call():
        with shared.slot():
            with lock:
                now["in"] += 1
                now["max"] = max(now["max"], now["in"])
            time.sleep(0.05)
            with lock:
                now["in"] -= 1
                now["done"] += 1

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert now == {"in": 0, "max": 3, "done": 12}


def test_waiters_are_served_in_turn_and_grading_goes_first():
    shared = limiter(max_concurrent=1)
    order: list[str] = []
    queued = []

    def call(name: str, priority: str):
        with shared.slot(priority):
            order.append(name)

    with shared.slot():
        for name, priority in [("page 1", "normal"), ("page 2", "normal"), ("grading", "high"), ("page 3", "normal")]:
            thread = threading.Thread(target=call, args=(name, priority))
            thread.start()
            queued.append(thread)
            time.sleep(0.1)  # each has joined the queue before the next arrives
    for thread in queued:
        thread.join(10)

    assert order == ["grading", "page 1", "page 2", "page 3"]


def test_a_waiter_whose_process_died_does_not_hold_the_queue():
    shared = limiter(max_concurrent=1)
    client = redis.Redis.from_url(settings.REDIS_URL)
    # A caller that queued first (highest priority, even) and then stopped asking.
    client.zadd(shared.queue_key, {"dead": time.time() - 10_000})
    client.zadd(shared.seen_key, {"dead": time.time() - WAITER_STALE_SECONDS - 1})

    started = time.monotonic()
    with shared.slot():
        waited = time.monotonic() - started

    assert waited < 1
    assert client.zscore(shared.queue_key, "dead") is None


def test_a_retry_after_pauses_every_caller():
    shared = limiter(max_concurrent=5)
    other = ProviderLimiter(shared.slots_key.split(":")[-2], max_concurrent=5)  # same provider, another "worker"
    shared.pause(0.5)

    started = time.monotonic()
    with other.slot():
        waited = time.monotonic() - started

    assert waited >= 0.45


def test_a_per_minute_budget_holds_calls_back():
    shared = limiter(max_concurrent=5, per_minute=2, max_wait=0.5)
    for _ in range(2):
        with shared.slot():
            pass
    next_minute = 60 - time.time() % 60

    started = time.monotonic()
    with shared.slot():  # over budget: waits for the next minute, here at most max_wait
        waited = time.monotonic() - started

    assert waited >= min(0.45, next_minute - 0.05)
