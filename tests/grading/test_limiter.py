"""The provider limiter on the real Redis: a concurrency cap shared by every caller, slots in turn, a fair share of the
slots for each organization, a freed slot wakes the next caller at once, a crashed holder's slot expires, a waiter
that died does not hold the queue, a Retry-After pauses everyone, a per-minute budget, hosts whose clocks disagree, and
a slot whose answer was lost."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings

from grading import limiter as limiter_module
from grading import limiter_scripts
from grading.limiter import WAITER_STALE_SECONDS, ProviderLimiter, fair_share
from jobs.errors import TransientJobError
from tests.helpers import wait_until


def limiter(**options) -> ProviderLimiter:
    return ProviderLimiter(f"test-{uuid.uuid4().hex[:8]}", **options)


class InFlight:
    """Counts the threads inside it: ``now`` at the moment, ``max`` the most at once, ``done`` how many have left."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.max = self.done = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc_info):
        with self.lock:
            self.now -= 1
            self.done += 1


def test_no_more_calls_at_once_than_the_cap_and_every_call_gets_through():
    shared = limiter(max_concurrent=3)
    in_flight = InFlight()
    three_at_once = threading.Barrier(3, timeout=10)  # each call holds its slot until two others hold theirs

    def call():
        with shared.slot(), in_flight:
            three_at_once.wait()

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert (in_flight.now, in_flight.max, in_flight.done) == (0, 3, 12)


def test_waiters_are_served_in_turn_whatever_the_call():
    shared = limiter(max_concurrent=1)
    order: list[str] = []
    queued = []

    def call(name: str):
        with limiter_like(shared, max_concurrent=1).slot():  # each caller as its own process
            order.append(name)

    with shared.slot():
        for name in ["page 1", "page 2", "grading", "page 3"]:
            thread = threading.Thread(target=call, args=(name,))
            thread.start()
            queued.append(thread)
            waiting(shared, len(queued))  # it has joined the queue before the next arrives
    for thread in queued:
        thread.join(10)

    assert order == ["page 1", "page 2", "grading", "page 3"]


class _Caller(threading.Thread):
    """A caller of ``shared``'s provider on behalf of an organization, as in a worker process of its own (or, with
    ``process_cap=shared``, as another thread of this process): it takes a slot, says so, and holds it until ``done``
    is set."""

    def __init__(
        self,
        shared: ProviderLimiter,
        organization: str,
        order: list[str] | None = None,
        hold=True,
        high=False,
        label: str | None = None,
        **options,
    ):
        super().__init__(daemon=True)
        self.shared, self.organization, self.order = shared, organization, order
        self.high, self.label = high, label or organization
        self.options = {"max_concurrent": shared.max_concurrent, **options}
        self.holding, self.done = threading.Event(), threading.Event()
        if not hold:
            self.done.set()

    def run(self):
        one_process = self.options.get("process_cap") is self.shared
        caller = self.shared if one_process else limiter_like(self.shared, **self.options)
        with fair_share(self.organization, high=self.high), caller.slot():
            if self.order is not None:
                self.order.append(self.label)
            self.holding.set()
            self.done.wait(20)


def holders(shared: ProviderLimiter) -> dict[str, int]:
    """How many slots each organization holds now, as the limiter counts them in Redis."""
    return shared.holders()


@pytest.mark.parametrize("where", ["each in its own process", "all threads of one worker process"])
def test_an_organization_that_arrives_later_gets_the_next_free_slot_not_the_back_of_the_queue(where):
    shared = limiter(max_concurrent=2)
    # One process: its threads share the process cap (as the AI worker's do), and still wait in turn in Redis.
    options = {"process_cap": shared} if where.startswith("all") else {}
    order: list[str] = []
    busy = [_Caller(shared, "org-a", **options) for _ in range(2)]  # A holds every slot...
    for caller in busy:
        caller.start()
        assert caller.holding.wait(10)
    queued = [_Caller(shared, "org-a", order, hold=False, **options) for _ in range(3)]  # ...and has three more waiting
    _queued(shared, *queued)
    latecomer = _Caller(shared, "org-b", order, hold=False, **options)
    _queued(shared, latecomer, already=3)

    busy[0].done.set()  # one of A's slots comes free
    for caller in [*queued, latecomer]:
        caller.join(10)
    busy[1].done.set()
    busy[1].join(10)

    assert order == ["org-b", "org-a", "org-a", "org-a"], "B went first, then A's waiters in their turn"


def test_an_organization_alone_gets_every_slot_and_two_busy_ones_share_them_evenly():
    shared = limiter(max_concurrent=4)
    a_first = [_Caller(shared, "org-a") for _ in range(4)]
    for caller in a_first:
        caller.start()
        assert caller.holding.wait(10)
    assert holders(shared) == {"org-a": 4}, "alone, A holds every slot"
    a_more = [_Caller(shared, "org-a") for _ in range(4)]
    b_all = [_Caller(shared, "org-b") for _ in range(4)]
    _queued(shared, *a_more, *b_all)

    for caller in a_first:  # A's first calls end one by one; each freed slot goes to whoever holds fewer
        _finish(caller)
        wait_until(lambda: sum(holders(shared).values()) == 4, what="the freed slot to be taken")
    assert holders(shared) == {"org-a": 2, "org-b": 2}

    for caller in [*a_more, *b_all]:
        caller.done.set()
    for caller in [*a_more, *b_all]:
        caller.join(10)
    # A slot an organization below its share gave back while the other waited is kept for it a moment (HANDOVER_SECONDS)
    # and then expires: once all are done, nobody holds one.
    wait_until(lambda: holders(shared) == {}, timeout=10, what="every slot to be free")


def _holding(*callers: _Caller) -> None:
    for caller in callers:
        caller.start()
        assert caller.holding.wait(10)


def _queued(shared: ProviderLimiter, *callers: _Caller, already: int = 0) -> None:
    """Start each caller once the one before waits in the queue (behind ``already`` others), so they queue in order."""
    for count, caller in enumerate(callers, start=already + 1):
        caller.start()
        waiting(shared, count)


def _finish(*callers: _Caller) -> None:
    """End each caller's call in turn, waiting for its thread."""
    for caller in callers:
        caller.done.set()
        caller.join(10)


def test_a_slot_given_back_by_an_organization_below_its_share_is_kept_for_its_next_call():
    shared = limiter(max_concurrent=2, handover=5)
    a_busy, b_reading = _Caller(shared, "org-a"), _Caller(shared, "org-b")
    _holding(a_busy, b_reading)
    a_queued = [_Caller(shared, "org-a") for _ in range(2)]
    _queued(shared, *a_queued)

    b_reading.done.set()  # B's reading ends; its grading asks a moment later
    b_reading.join(10)
    time.sleep(0.3)
    assert not any(caller.holding.is_set() for caller in a_queued), "A's waiters did not take B's slot meanwhile"
    assert holders(shared) == {"org-a": 1, "org-b": 1}, "the slot is kept for B (B's share is one of the two)"
    b_grading = _Caller(shared, "org-b")
    b_grading.start()
    assert b_grading.holding.wait(2), "B's next call took its kept slot at once"
    assert holders(shared) == {"org-a": 1, "org-b": 1}
    assert redis.Redis.from_url(settings.REDIS_URL).zcard(shared.queue_key) == 2, "A's two still wait their turn"

    _finish(a_busy, *a_queued, b_grading)
    assert holders(shared) == {}, "nothing is kept when nobody else waits"


def test_a_kept_slot_goes_back_to_everyone_when_its_organization_does_not_call_again(monkeypatch):
    monkeypatch.setattr(limiter_module, "RECHECK_SECONDS", 0.1)
    shared = limiter(max_concurrent=2, handover=0.5)
    a_busy, b_last = _Caller(shared, "org-a"), _Caller(shared, "org-b")
    _holding(a_busy, b_last)
    a_next = _Caller(shared, "org-a")
    _queued(shared, a_next)

    started = time.monotonic()
    b_last.done.set()  # B's last call: B has nothing more to ask
    b_last.join(10)
    assert a_next.holding.wait(5), "A's waiter got the slot once B's hold expired"
    assert 0.4 <= time.monotonic() - started < 3
    assert holders(shared) == {"org-a": 2}, "alone again, A holds every slot"
    _finish(a_busy, a_next)


def test_a_slot_freed_after_a_kept_slot_expired_wakes_a_waiter_for_each_free_slot(monkeypatch):
    # Waiters look again only after RECHECK_SECONDS: long here, so a waiter holds a slot early only if it was woken.
    monkeypatch.setattr(limiter_module, "RECHECK_SECONDS", 30)
    shared = limiter(max_concurrent=2, handover=0.2)
    a_last, b_first = _Caller(shared, "org-a", handover=0.2), _Caller(shared, "org-b")
    _holding(a_last, b_first)
    b_queued = [_Caller(shared, "org-b") for _ in range(2)]
    for count, caller in enumerate(b_queued, start=1):
        caller.start()
        waiting(shared, count)
    a_last.done.set()  # A (below its share, none of its own waiting, B waiting) gives back: the slot is kept for A
    a_last.join(10)
    time.sleep(0.5)  # ... and expires unused
    assert not any(caller.holding.is_set() for caller in b_queued), "nobody looked again meanwhile"

    b_first.done.set()  # two slots are free now: both of B's waiters are woken, not one
    # Woken, both hold within a moment; one not woken would look again only when its wait timed out (seconds).
    woken_by = time.monotonic() + 1.0
    assert all(caller.holding.wait(max(0.0, woken_by - time.monotonic())) for caller in b_queued), "one woken"
    assert holders(shared) == {"org-b": 2}
    for caller in b_queued:
        caller.done.set()
        caller.join(10)
    assert holders(shared) == {}


def test_an_organization_alone_keeps_no_slot_and_a_busy_one_none_past_its_share():
    shared = limiter(max_concurrent=2, handover=5)
    # A alone: a call that ends gives its slot straight to A's next waiter, and with nobody waiting keeps nothing.
    a_first = [_Caller(shared, "org-a") for _ in range(2)]
    _holding(*a_first)
    a_next = _Caller(shared, "org-a")
    _queued(shared, a_next)
    a_first[0].done.set()
    assert a_next.holding.wait(5)
    _finish(a_first[1], a_next)
    assert holders(shared) == {}
    # A holds both slots while B waits: A is past its share (one of two), so a slot A gives back goes to B.
    a_both = [_Caller(shared, "org-a") for _ in range(2)]
    _holding(*a_both)
    b_waiting = _Caller(shared, "org-b")
    _queued(shared, b_waiting)
    a_both[0].done.set()
    assert b_waiting.holding.wait(5), "B got A's slot"
    a_both[0].join(10)
    a_both[1].done.set()  # A, now at its share's edge (none held after this), with nobody else waiting: nothing kept
    a_both[1].join(10)
    assert holders(shared) == {"org-b": 1}
    b_waiting.done.set()
    b_waiting.join(10)


def test_a_high_priority_call_goes_before_its_organizations_others_but_not_before_another_organizations_turn():
    shared = limiter(max_concurrent=2)
    order: list[str] = []
    a_busy, b_busy = _Caller(shared, "org-a"), _Caller(shared, "org-b")
    _holding(a_busy, b_busy)
    queued = [
        _Caller(shared, "org-a", order, label="A normal 1"),
        _Caller(shared, "org-a", order, label="A normal 2"),
        _Caller(shared, "org-b", order, label="B normal"),
        _Caller(shared, "org-a", order, high=True, label="A high"),
    ]
    _queued(shared, *queued)

    a_busy.done.set()  # A's slot comes free: A's turn, and its high-priority call goes first
    wait_until(lambda: len(order) == 1, what="the freed slot to be taken")
    b_busy.done.set()  # B's: B holds none, A one, so it is B's turn, whatever A's priority
    wait_until(lambda: len(order) == 2, what="the freed slot to be taken")
    assert order == ["A high", "B normal"]
    for caller in [queued[0], queued[1], queued[3]]:  # B's call holds on; A's calls end one after the other
        caller.done.set()
    for caller in [a_busy, b_busy, queued[3], queued[0], queued[1]]:
        caller.join(10)
    assert order == ["A high", "B normal", "A normal 1", "A normal 2"], "A's others in the order they came"
    queued[2].done.set()
    queued[2].join(10)


def test_a_crashed_holders_slot_still_expires():
    shared = limiter(max_concurrent=1)
    with fair_share("org-a"):
        crashed = shared.slot()
        crashed.__enter__()  # its process died during the call: the slot is never given back
    assert holders(shared) == {"org-a": 1}

    started = time.monotonic()
    late = _Caller(shared, "org-b", stale_after=1)  # a slot not given back expires after 1 s (by Redis's clock)
    late.start()
    assert late.holding.wait(10), "the crashed call's slot expired and went to the next caller"
    assert 1 <= time.monotonic() - started < 5
    assert holders(shared) == {"org-b": 1}
    late.done.set()
    late.join(10)
    del crashed


def test_a_freed_slot_wakes_the_next_caller_instead_of_waiting_for_its_next_look(monkeypatch):
    monkeypatch.setattr(limiter_module, "RECHECK_SECONDS", 30.0)  # without the wake-up it would wait this long
    shared = limiter(max_concurrent=1)
    other = limiter_like(shared, max_concurrent=1)  # as in another worker process
    got_it = threading.Event()

    def call():
        with other.slot():
            got_it.set()

    with shared.slot():
        waiter = threading.Thread(target=call)
        waiter.start()
        waiting(shared, 1)  # it has found no free slot and is waiting
        assert not got_it.is_set()
    assert got_it.wait(10), "the caller was not woken when the slot came free"
    waiter.join(10)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert not client.keys(f"{shared.wake_prefix}*"), "no wake-up keys are left behind"


def test_a_waiter_whose_process_died_does_not_hold_the_queue():
    shared = limiter(max_concurrent=1, max_wait=30)
    client = redis.Redis.from_url(settings.REDIS_URL)
    # A caller that queued first (highest priority, even) and then stopped asking.
    client.zadd(shared.queue_key, {"dead": time.time() - 10_000})
    client.zadd(shared.seen_key, {"dead": time.time() - WAITER_STALE_SECONDS - 1})

    with shared.slot():  # had the dead waiter kept its place, this would give up after max_wait
        assert client.zcard(shared.slots_key) == 1
    assert client.zscore(shared.queue_key, "dead") is None


def test_a_retry_after_pauses_every_caller():
    shared = limiter(max_concurrent=5)
    other = limiter_like(shared, max_concurrent=5)
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
    try:
        with shared.slot():  # over budget: waits for the next minute, here at most max_wait
            waited = time.monotonic() - started
    except TransientJobError:
        waited = time.monotonic() - started
        assert waited >= 0.45, "gave up only at max_wait"
    else:
        assert next_minute < 0.55, "a call over the budget only goes in the next minute"
        assert waited >= next_minute - 0.05


def test_a_caller_that_waits_too_long_gives_up_instead_of_exceeding_the_cap():
    shared = limiter(max_concurrent=1, max_wait=0.3)
    client = redis.Redis.from_url(settings.REDIS_URL)
    with shared.slot():
        started = time.monotonic()
        with pytest.raises(TransientJobError, match="no call slot came free"), shared.slot():
            pass  # pragma: no cover - never reached
        assert time.monotonic() - started >= 0.25
        assert client.zcard(shared.slots_key) == 1, "still only the first call holds a slot"
    assert client.zcard(shared.queue_key) == 0, "the caller that gave up left the queue"


class _SkewedClock:
    """The time module as seen on a host whose clock is ``offset`` seconds out (only in ``thread``, if given: the
    other threads stand for callers on other hosts)."""

    def __init__(self, offset: float, thread: threading.Thread | None = None):
        self.offset = offset
        self.thread = thread

    def time(self) -> float:
        skewed = self.thread is None or threading.current_thread() is self.thread
        return time.time() + (self.offset if skewed else 0)

    def __getattr__(self, name):
        return getattr(time, name)


def test_a_host_whose_clock_is_fast_does_not_free_the_slots_of_others(monkeypatch):
    shared = limiter(max_concurrent=1, max_wait=0.5)
    client = redis.Redis.from_url(settings.REDIS_URL)
    fast = _SkewedClock(shared.stale_after + 600)  # by its clock, every slot now held looks long abandoned
    with shared.slot():
        monkeypatch.setattr(limiter_module, "time", fast)
        with (
            pytest.raises(TransientJobError, match="no call slot came free"),
            limiter_like(shared, max_concurrent=1, max_wait=0.5).slot(),
        ):
            pass  # pragma: no cover - never reached: the first call still holds the only slot
        monkeypatch.setattr(limiter_module, "time", time)
        assert client.zcard(shared.slots_key) == 1


def test_a_host_whose_clock_is_slow_does_not_jump_the_queue(monkeypatch):
    shared = limiter(max_concurrent=1)
    order: list[str] = []

    def call(name: str):
        with limiter_like(shared, max_concurrent=1).slot():
            order.append(name)

    first = threading.Thread(target=call, args=("asked first",))
    slow = threading.Thread(target=call, args=("asked second, clock 15 minutes slow",))
    monkeypatch.setattr(limiter_module, "time", _SkewedClock(-900, thread=slow))
    with shared.slot():
        _queued(shared, first)
        slow.start()
        waiting(shared, 2)
    for waiter in (first, slow):
        waiter.join(10)

    assert order == ["asked first", "asked second, clock 15 minutes slow"]


def test_a_retry_after_is_kept_by_redis_not_by_the_hosts_clock(monkeypatch):
    shared = limiter(max_concurrent=5)
    monkeypatch.setattr(limiter_module, "time", _SkewedClock(3600))  # the host that got the 429 is an hour fast
    shared.pause(1.0)
    monkeypatch.setattr(limiter_module, "time", time)
    client = redis.Redis.from_url(settings.REDIS_URL)
    left = client.pttl(shared.pause_key) / 1000  # what is left of it now (a loaded host is slow to get here)
    assert 0.3 < left <= 1.0

    started = time.monotonic()
    with limiter_like(shared, max_concurrent=5).slot():
        waited = time.monotonic() - started
    assert waited >= left - 0.02, "the pause held the next caller back for as long as Redis keeps it"


class _LosesTheFirstAnswer(redis.Redis):
    """A connection that drops Redis's reply to the next slot request, after Redis has acted on it."""

    lost = False

    def eval(self, script, *args):
        result = super().eval(script, *args)
        if script == limiter_scripts.ACQUIRE and not self.lost:
            self.lost = True
            raise redis.TimeoutError("Timeout reading from socket")
        return result


def test_a_slot_whose_answer_was_lost_is_used_and_given_back_not_leaked(monkeypatch):
    monkeypatch.setattr(limiter_module, "_client", _LosesTheFirstAnswer.from_url(settings.REDIS_URL))
    shared = limiter(max_concurrent=1, max_wait=0.5)
    client = redis.Redis.from_url(settings.REDIS_URL)
    with shared.slot():  # Redis gave the slot; the caller found out by asking again
        assert client.zcard(shared.slots_key) == 1, "the call runs on the slot Redis gave it"
    assert client.zcard(shared.slots_key) == 0, "and gives it back afterwards"
    with limiter_like(shared, max_concurrent=1, max_wait=0.5).slot():  # so the next caller gets it at once
        pass


def test_a_lost_answer_while_every_slot_is_taken_keeps_the_caller_waiting_within_the_cap(monkeypatch):
    shared = limiter(max_concurrent=1)
    client = redis.Redis.from_url(settings.REDIS_URL)
    seen_in_slots = []

    def call():
        with limiter_like(shared, max_concurrent=1).slot():
            seen_in_slots.append(client.zcard(shared.slots_key))

    with shared.slot():
        losing = _LosesTheFirstAnswer.from_url(settings.REDIS_URL)
        monkeypatch.setattr(limiter_module, "_client", losing)
        waiter = threading.Thread(target=call)
        waiter.start()
        wait_until(lambda: losing.lost, what="its first ask to get no slot, and the answer to be lost")
        waiting(shared, 1)
        assert not seen_in_slots, "it did not go ahead without a slot"
    waiter.join(10)
    assert seen_in_slots == [1], "it got the slot once it came free, and was the only call holding one"


def waiting(shared: ProviderLimiter, count: int) -> None:
    """Until ``count`` callers wait in the limiter's queue (Redis's own record; no sleep guesses how long it takes)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    wait_until(lambda: client.zcard(shared.queue_key) == count, what=f"{count} caller(s) in the queue")


def limiter_like(other: ProviderLimiter, **options) -> ProviderLimiter:
    """Another caller of the same provider's limiter, as another worker process would be: the same slots in Redis,
    and a process cap of its own (in this process, the callers would otherwise wait on one semaphore, not in Redis)."""
    options.setdefault("process_cap", threading.BoundedSemaphore(options.get("max_concurrent") or 1))
    return ProviderLimiter(other.slots_key.split(":")[-2], **options)


# --- Failing safe: no call without the limiter, and each process's own cap -------------------------------------------


class _Said(logging.Handler):
    """Sets ``event`` when the limiter logs a message starting with ``text``."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.event = threading.Event()

    def emit(self, record):
        if record.getMessage().startswith(self.text):
            self.event.set()


@pytest.fixture
def said():
    handlers = []

    def _said(text: str) -> threading.Event:
        handler = _Said(text)
        limiter_module.logger.addHandler(handler)
        handlers.append(handler)
        return handler.event

    yield _said
    for handler in handlers:
        limiter_module.logger.removeHandler(handler)


def test_without_redis_no_call_is_made_and_the_job_is_told_to_retry(monkeypatch, settings):
    settings.AI_LIMITER_REDIS_WAIT_SECONDS = 0.3
    monkeypatch.setattr(limiter_module, "_client", redis.Redis.from_url("redis://127.0.0.1:1/0"))
    shared = limiter(max_concurrent=2)
    calls, refusals = [], []

    def call():
        try:
            with shared.slot():
                calls.append(1)
        except TransientJobError as exc:
            refusals.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert calls == [] and len(refusals) == 4, "never a call without the limiter"
    assert all(exc.transient and "no AI call was made" in exc.message for exc in refusals)


def test_a_call_waits_for_redis_to_come_back_and_then_goes_ahead(monkeypatch, settings, said, tmp_path):
    from tests.reliability.support import PrivateRedis

    server = PrivateRedis(tmp_path)
    monkeypatch.setattr(limiter_module, "_client", redis.Redis.from_url(server.url, socket_connect_timeout=0.2))
    settings.AI_LIMITER_REDIS_WAIT_SECONDS = 60
    waiting = said("Limiter unavailable; waiting")
    shared = limiter(max_concurrent=1)
    entered = threading.Event()

    def call():
        with shared.slot():
            entered.set()

    thread = threading.Thread(target=call)
    thread.start()
    try:
        assert waiting.wait(10), "the call waits for Redis"
        assert not entered.is_set()
        server.start()
        assert entered.wait(30), "and goes ahead once Redis answers"
    finally:
        thread.join(30)
        server.stop()


def test_each_process_keeps_its_own_cap_when_redis_forgets_the_slots():
    shared = limiter(max_concurrent=2)
    client = redis.Redis.from_url(settings.REDIS_URL)
    release = threading.Event()
    in_flight = InFlight()
    holding = threading.Semaphore(0)

    def call():
        with shared.slot(), in_flight:
            holding.release()
            release.wait(10)

    first = [threading.Thread(target=call) for _ in range(2)]
    for t in first:
        t.start()
    for _ in first:
        assert holding.acquire(timeout=10)
    client.delete(shared.slots_key)  # Redis came back empty: the two running calls' slots are forgotten there
    third = threading.Thread(target=call)
    third.start()
    assert not holding.acquire(timeout=0.5), "the third call waits for this process's cap"
    release.set()
    assert holding.acquire(timeout=10)
    for t in [*first, third]:
        t.join(10)
    assert in_flight.max == 2
