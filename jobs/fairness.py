"""Fair turns between organizations in the job queues (issue #19): an organization with little in flight is not queued
behind another's batch.

A job's message goes to its queue with a priority that follows how many of its organization's jobs on that queue are
already queued or running: the first few at the top priority, a batch's later ones lower. Celery's Redis transport
keeps a queue as one list per priority step, and a worker that is free takes from the top priority's list first, then
in order; within one list, first in first out. So a lone organization still gets every worker, in its own order; and
one that uploads a single script while another's batch of a hundred waits is started at the next free worker, not
after the batch. (The AI provider's slots are shared the same way, by :mod:`grading.limiter`.)

That is only so if a worker has a free thread when the single script's message arrives. A job whose AI calls wait for
the provider's slots still holds its thread while it waits, so a batch of a hundred held every thread of the AI worker
and the next organization's message, first in the queue, waited for one of the batch's jobs to end (1.9 s of a 3 s
call, bench). So in a threads worker one organization's jobs may hold every thread but a reserve
(:func:`worker_turn`): a job past that hands its message back to the end of its queue after a short pause, and the
reserve is free for another organization's next message. While no other organization's job is queued, such a job
parks on its thread instead and runs when one of its own organization's jobs ends: handing a lone batch's jobs back
for nobody cost it 0.3 s pauses and the end of the queue (bench ratio 1.29-1.52 against 1.28 without a reserve), and
running them on the reserve left no thread to give up when another organization's job came (B waited 1.8 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

from celery.exceptions import Reject
from django.conf import settings
from kombu.transport.redis import Channel

# The transport's priority steps (CELERY_BROKER_TRANSPORT_OPTIONS sets them, so they are ours to read): on Redis the
# lowest number is served first.
PRIORITY_STEPS: tuple[int, ...] = tuple(settings.CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"])
# (n, priority): an organization with fewer than n other jobs on the queue in flight gets that priority; else the
# lowest. A single upload (read, then graded) is always in the first step; a batch's first jobs too.
IN_FLIGHT_STEPS: tuple[tuple[int, int], ...] = ((2, PRIORITY_STEPS[0]), (8, PRIORITY_STEPS[1]), (24, PRIORITY_STEPS[2]))


def priority_for(in_flight: int) -> int:
    """The message priority of a job whose organization has ``in_flight`` other jobs queued or running on its queue."""
    for below, priority in IN_FLIGHT_STEPS:
        if in_flight < below:
            return priority
    return PRIORITY_STEPS[-1]


def message_priority(job, queues: dict[str, str]) -> int:
    """The priority to publish ``job`` with (``queues``: job type -> queue). A job someone asked to be high priority
    goes at the top step, however many of its organization's jobs are in flight."""
    from jobs.models import ACTIVE_STATUSES, BackgroundJob, Priority

    if job.priority == Priority.HIGH:
        return PRIORITY_STEPS[0]

    same_queue = [job_type for job_type, queue in queues.items() if queue == queues[job.job_type]]
    in_flight = (
        BackgroundJob.objects.filter(
            organization_id=job.organization_id, job_type__in=same_queue, status__in=ACTIVE_STATUSES
        )
        .exclude(pk=job.pk)
        .count()
    )
    return priority_for(in_flight)


def queue_keys(queue: str) -> list[str]:
    """The Redis lists that hold a queue's waiting messages, in the order a worker takes from them (with the key
    prefix): how many wait is the sum of their lengths."""
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    return [f"{prefix}{queue}" if not step else f"{prefix}{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


# The job threads of this worker process (0: not a threads worker, or not a worker; no reserve), and how many of them
# each organization's jobs hold now.
_threads = 0
_holding: Counter = Counter()
_holding_lock = threading.Lock()
# How long a job past its organization's threads waits before handing its message back: the reserve's threads are
# taken by such messages for this long at most when another organization's arrives, and the worker does not spin.
DEFER_PAUSE_SECONDS = 0.3
# How often a job parked past its organization's threads looks again (for a thread of its own, or another waiting).
PARK_SECONDS = 0.1


class HandedBack(Reject):
    """A job's message handed back to its queue by :func:`worker_turn`'s rule: routine, so not logged as a warning."""


class _QuietHandBacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], HandedBack))


def set_worker_threads(threads: int) -> None:
    """This process runs jobs on ``threads`` threads (the threads pool's --concurrency)."""
    global _threads
    _threads = threads
    trace = logging.getLogger("celery.app.trace")  # Celery logs every rejected message as a warning
    if not any(isinstance(existing, _QuietHandBacks) for existing in trace.filters):
        trace.addFilter(_QuietHandBacks())


def reserve(threads: int) -> int:
    """Threads of ``threads`` kept for organizations other than the one holding the rest: an eighth, at least one."""
    return max(1, threads // 8)


def _take(share: str) -> bool:
    """Count a job of ``share`` as holding a thread, unless its organization already holds all but the reserve."""
    with _holding_lock:
        if _threads > 1 and share and _holding[share] >= _threads - reserve(_threads):
            return False
        _holding[share] += 1
        return True


@contextmanager
def worker_turn(share: str, others_waiting: Callable[[], bool] = lambda: True):
    """Yields whether a job of ``share`` (an organization) may run on this thread: yes at once while its organization's
    jobs hold fewer than every thread of this process but the reserve. Past that, the job parks on its thread while
    nobody else waits (so a lone batch keeps its order and loses nothing) and runs when one of its organization's own
    jobs ends; as soon as ``others_waiting()`` says another organization's job is queued, it yields no: its message
    goes back and the reserve thread takes the other organization's. Counts it as holding one while the block runs."""
    admitted = _take(share)
    while not admitted and not others_waiting():  # asked only past the share: a query every PARK_SECONDS
        time.sleep(PARK_SECONDS)
        admitted = _take(share)
    try:
        yield admitted
    finally:
        if admitted:
            with _holding_lock:
                _holding[share] -= 1
                if not _holding[share]:
                    del _holding[share]


def others_queued(share: str, job_types: list[str]) -> bool:
    """Whether a job of an organization other than ``share`` (a schema name) waits, queued, among ``job_types``."""
    from jobs.models import BackgroundJob, JobStatus

    return (
        BackgroundJob.objects.filter(status=JobStatus.QUEUED, job_type__in=job_types)
        .exclude(organization__schema_name=share)
        .exists()
    )
