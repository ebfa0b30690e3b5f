"""A limiter shared by every worker through Redis: at most N concurrent calls and M calls a minute per provider, slots
shared fairly between organizations, and a provider's Retry-After pauses everyone, not just the call that got the 429.
A caller waits on the shared state, never a fixed sleep: whoever frees a slot wakes the callers it now goes to. Every
time it keeps is Redis's own clock (TIME, key expiry), so workers on hosts whose clocks disagree still share one order
and one cap.

Fair share: each caller asks on behalf of a share (the organization whose job makes the call, set with
:func:`fair_share`). A free slot goes to the waiting share that holds the fewest slots, and within a share to its
longest waiter; between shares holding as many, to the one whose next waiter came first. So an organization alone
gets every slot, and one that arrives while another holds them all gets the next slot that comes free, however many
callers the other has queued. A share's high-priority callers go before its other waiters, within its share. A slot
given back by a share below its fair share is kept for its next call for a moment (HANDOVER_SECONDS), so that the
next step of the same work does not wait a whole call behind the other share's queue.

It fails safe: if Redis cannot be reached, a call waits for it (AI_LIMITER_REDIS_WAIT_SECONDS), and then its job is
retried later rather than the call going ahead without a limit; a fleet of workers calling unlimited through a Redis
outage would hit the provider's rate limit at once. Each process also holds its own cap (AI_MAX_CONCURRENT_CALLS calls
at once), which applies whatever Redis says: after Redis comes back empty, the slots that running calls held are
forgotten there, but not here. A caller takes that cap after its Redis slot, so callers wait in Redis, in fair turn,
and not in the order a process's threads happened to ask."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import random
import threading
import time
import uuid
from contextlib import contextmanager

import redis
from django.conf import settings

from grading import limiter_scripts as scripts
from jobs.errors import TransientJobError

logger = logging.getLogger(__name__)


# Within an organization, first come, first served, whatever the call. Giving grading calls a head start finished
# single scripts sooner but a batch later: each grading that jumped the queue pushed the last pages back, and their
# gradings behind them (bench: 7.6 s against 6.6 s for 20 scripts; BENCHMARKS.md).
WAITER_STALE_SECONDS = 5
# A waiter that is not woken looks again this often: slots freed by expiry, or a caller ahead that gave up.
RECHECK_SECONDS = 1.0
# How long a slot given back by a share below its fair share is kept for that share's next call (RELEASE). Under a
# 100-script batch of another organization, a single upload's grading asked 0.35 s after its reading's calls ended
# (bench, load 4.5); past this the slot goes back to everyone, so a share that has no next call wastes at most this.
HANDOVER_SECONDS = 1.5

_client: redis.Redis | None = None
_pacing_lock = threading.Lock()
_last_call_end = 0.0
_process_caps: dict[tuple[str, int], threading.BoundedSemaphore] = {}  # (provider, cap) -> this process's slots
_share: contextvars.ContextVar[tuple[str, bool]] = contextvars.ContextVar("limiter_share", default=("", False))


@contextmanager
def fair_share(name: str, high: bool = False):
    """AI calls made inside this block (in this thread or context) share the slots as ``name`` (an organization);
    ``high``: they go before the share's other waiting calls (never before another share's turn)."""
    reset = _share.set((name, high))
    try:
        yield
    finally:
        _share.reset(reset)


def current_share() -> str:
    """The share (organization) the calls made here count against; "" outside any :func:`fair_share`."""
    return _share.get()[0]


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    return _client


class ProviderLimiter:
    def __init__(
        self,
        provider: str,
        max_concurrent: int | None = None,
        per_minute: int | None = None,
        max_wait: float = 600.0,
        process_cap: threading.BoundedSemaphore | None = None,
        stale_after: int | None = None,
        handover: float = HANDOVER_SECONDS,
    ):
        """``process_cap``: the slots of this caller's own process; by default the one semaphore that every limiter
        of this provider and cap in the process shares (a caller standing for another process brings its own).
        ``stale_after``: seconds after which a slot never given back (its caller's process died) is free again; by
        default longer than the longest call with its retries. ``handover``: seconds a slot given back by a share
        below its fair share is kept for that share's next call (0: never)."""
        self.provider = provider
        self._own_process_cap = process_cap
        prefix = f"{settings.REDIS_KEY_PREFIX}:limiter:{provider}"
        self.slots_key = f"{prefix}:slots"
        self.queue_key = f"{prefix}:queue"
        self.seen_key = f"{prefix}:seen"
        self.pause_key = f"{prefix}:pause_until"
        self.wake_prefix = f"{prefix}:wake:"
        self.minute_prefix = f"{prefix}:minute"
        self.max_concurrent = max_concurrent or settings.AI_MAX_CONCURRENT_CALLS
        self.per_minute = per_minute or settings.AI_MAX_CALLS_PER_MINUTE
        self.max_wait = max_wait
        self.handover = handover
        self.stale_after = stale_after or int(settings.OPENAI_TIMEOUT * (settings.OPENAI_MAX_RETRIES + 1) + 60)

    def pause(self, seconds: float) -> None:
        """Everyone waits ``seconds`` (a provider's Retry-After)."""
        if not math.isfinite(seconds):
            return
        try:
            _redis().eval(scripts.PAUSE, 1, self.pause_key, max(1, int(seconds * 1000)))
        except redis.RedisError as exc:
            logger.warning("Limiter could not record a pause: %s", exc)

    def _wait_for_pause(self, client: redis.Redis, deadline: float) -> None:
        remaining_ms = client.pttl(self.pause_key)  # -2: no pause
        while remaining_ms > 0 and time.time() < deadline:
            time.sleep(min(remaining_ms / 1000, 1.0, max(0.0, deadline - time.time())) + random.uniform(0, 0.05))
            remaining_ms = client.pttl(self.pause_key)

    def _take_minute_budget(self, client: redis.Redis, deadline: float) -> None:
        while time.time() < deadline:
            seconds, micros = client.time()  # the minute by Redis's clock, the same for every host
            now = seconds + micros / 1_000_000
            minute = int(now // 60)
            key = f"{self.minute_prefix}:{minute}"
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            count = pipe.execute()[0]
            if count <= self.per_minute:
                return
            until_next_minute = (minute + 1) * 60 - now + random.uniform(0, 0.2)
            time.sleep(max(0.01, min(until_next_minute, deadline - time.time())))

    def _space_calls(self) -> None:
        """AI_MIN_SECONDS_BETWEEN_CALLS: wait that long after this process's previous call ended (0: no pacing)."""
        spacing = settings.AI_MIN_SECONDS_BETWEEN_CALLS
        if spacing <= 0:
            return
        with _pacing_lock:
            wait = _last_call_end + spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _process_cap(self) -> threading.BoundedSemaphore:
        if self._own_process_cap is not None:
            return self._own_process_cap
        with _pacing_lock:
            return _process_caps.setdefault(
                (self.provider, self.max_concurrent), threading.BoundedSemaphore(self.max_concurrent)
            )

    def _take_shared_slot(self, token: str) -> None:
        """Wait for a slot in Redis, in turn. Raises redis.RedisError if Redis cannot be reached, TransientJobError if
        no slot came free within max_wait."""
        acquired = False
        client = _redis()
        deadline = time.time() + self.max_wait
        self._wait_for_pause(client, deadline)
        self._take_minute_budget(client, deadline)
        keys = (self.slots_key, self.queue_key, self.seen_key)
        wake_key = self.wake_prefix + token
        try:
            while time.time() < deadline:
                args = (token, self.max_concurrent, self.stale_after, WAITER_STALE_SECONDS)
                try:
                    acquired = bool(client.eval(scripts.ACQUIRE, len(keys), *keys, *args))
                except redis.TimeoutError:
                    # Redis may have acted before its answer was lost: whether this caller holds a slot is
                    # in Redis. If it does, the call goes ahead on it; if not, it keeps its place and waits.
                    acquired = client.zscore(self.slots_key, token) is not None
                if acquired:
                    return
                client.blpop([wake_key], timeout=max(0.01, min(RECHECK_SECONDS, deadline - time.time())))
        finally:
            with contextlib.suppress(redis.RedisError):
                if not acquired:  # gave up waiting: leave the queue so those behind are not held up
                    client.zrem(self.queue_key, token)
                    client.zrem(self.seen_key, token)
                client.delete(wake_key)
        # Never past the cap: the job retries later (with backoff) instead of joining a crowd of late calls.
        raise TransientJobError(
            f"The AI provider is busy: no call slot came free within {self.max_wait:.0f} seconds.",
            code="PROVIDER_RATE_LIMITED",
        )

    def _take_shared_slot_waiting_for_redis(self, token: str) -> None:
        """_take_shared_slot, waiting up to AI_LIMITER_REDIS_WAIT_SECONDS for Redis to answer; then the job retries."""
        give_up = time.monotonic() + settings.AI_LIMITER_REDIS_WAIT_SECONDS
        while True:
            try:
                return self._take_shared_slot(token)
            except redis.RedisError as exc:
                left = give_up - time.monotonic()
                if left <= 0:
                    logger.warning("Limiter unavailable; no AI call made, the job will retry: %s", exc)
                    raise TransientJobError(
                        "The AI call limiter (Redis) is unavailable, so no AI call was made; the job will try again "
                        "once it is back.",
                        code="TEMPORARY_FAILURE",
                    ) from exc
                logger.info("Limiter unavailable; waiting up to %.0f s for it: %s", left, exc)
                time.sleep(min(1.0, left))

    def holders(self) -> dict[str, int]:
        """How many slots each share holds now, a kept slot counting as its share's; expired ones are dropped first
        (for dashboards and tests: nothing waits on this)."""
        return {
            share.decode(): count
            for share, count in _redis().eval(scripts.HOLDERS, 1, self.slots_key, self.stale_after)
        }

    def _release(self, token: str) -> None:
        with contextlib.suppress(redis.RedisError):  # else the slot expires after stale_after seconds
            keys = (self.slots_key, self.queue_key)
            args = (token, self.wake_prefix, self.max_concurrent, self.stale_after, self.handover)
            _redis().eval(scripts.RELEASE, len(keys), *keys, *args)

    @contextmanager
    def slot(self):
        """Hold one of the provider's slots for a call, as the current :func:`fair_share`: in fair turn between
        organizations, and in the order they asked within one."""
        self._space_calls()
        started = time.monotonic()
        share, high = _share.get()
        token = f"{'high-' if high else ''}{uuid.uuid4().hex}:{share}"
        self._take_shared_slot_waiting_for_redis(token)
        cap = self._process_cap()
        # Normally free at once (this process's calls hold Redis slots too); it waits only when Redis forgot slots.
        if not cap.acquire(timeout=max(0.0, self.max_wait - (time.monotonic() - started))):
            self._release(token)
            raise TransientJobError(
                f"The AI provider is busy: no call slot came free within {self.max_wait:.0f} seconds.",
                code="PROVIDER_RATE_LIMITED",
            )
        from quizmarker.metrics import limiter_waited

        limiter_waited(time.monotonic() - started)
        try:
            yield
        finally:
            global _last_call_end
            _last_call_end = time.monotonic()
            cap.release()
            self._release(token)
