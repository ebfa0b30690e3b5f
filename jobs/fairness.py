"""Fair turns between organizations in the job queues (issue #19): an organization with little in flight is not queued
behind another's batch.

A job's message goes to its queue with a priority that follows how many of its organization's jobs on that queue are
already queued or running: the first few at the top priority, a batch's later ones lower. Celery's Redis transport
keeps a queue as one list per priority step, and a worker that is free takes from the top priority's list first, then
in order; within one list, first in first out. So a lone organization still gets every worker, in its own order; and
one that uploads a single script while another's batch of a hundred waits is started at the next free worker, not
after the batch. (The AI provider's slots are shared the same way, by :mod:`grading.limiter`.)
"""

from __future__ import annotations

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
    """The priority to publish ``job`` with (``queues``: job type -> queue)."""
    from jobs.models import ACTIVE_STATUSES, BackgroundJob

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
