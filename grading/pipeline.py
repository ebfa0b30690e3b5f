"""What the grading pipeline's two jobs share: the provider of an organization, logging its calls, a bounded pool
for concurrent AI calls, and what counts as hard to read.

The jobs themselves: :mod:`grading.reading` (extraction: pages → transcribed scripts) and :mod:`grading.marking`
(grading: scripts → matched to the mark scheme → marked by its points).
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.conf import settings

from grading.limiter import fair_share
from grading.providers.base import Provider, get_provider
from grading.providers.schemas import LOW_LEGIBILITY, Usage
from jobs.models import Priority
from jobs.running import JobContext

logger = logging.getLogger(__name__)


def hard_to_read(legibility: float | None) -> bool:
    """Whether the reader was unsure of an answer's words. No value (a typed sheet's text layer) is read for sure; 0.0
    is not "no value": the reader could not read it at all."""
    return legibility is not None and legibility < LOW_LEGIBILITY


def provider_for(organization) -> Provider:
    return get_provider(organization.ai_provider or settings.QUIZMARKER_AI_PROVIDER)


def record_usage(context: JobContext, usages: list[Usage]) -> None:
    """Log provider calls at once (they cost money whether or not the job finishes)."""
    from organizations.models import ProviderCall
    from organizations.usage import estimate_cost
    from quizmarker import metrics

    job = context.job
    calls = [
        ProviderCall(
            organization_id=job.organization_id,
            user_id=job.user_id,
            job_id=job.pk,
            provider=u.provider,
            model=u.model,
            purpose=u.purpose,
            prompt_tokens=u.prompt_tokens,
            cached_tokens=u.cached_tokens,
            completion_tokens=u.completion_tokens,
            latency_ms=u.latency_ms,
            succeeded=u.succeeded,
            error=u.error[:200],
            cost_usd=estimate_cost(u.model, u.prompt_tokens, u.cached_tokens, u.completion_tokens),
        )
        for u in usages
    ]
    if len(calls) == 1:  # the usual page or script: one INSERT, without the transaction bulk_create opens around it
        calls[0].save(force_insert=True)
    else:
        ProviderCall.objects.bulk_create(calls)
    for usage, call in zip(usages, calls, strict=True):
        metrics.provider_call(usage, call.cost_usd)


def run_bounded(context: JobContext, items: list, work, limit: int, on_done) -> None:
    """Run ``work(item)`` for every item on at most ``limit`` threads; ``on_done(item, result, done_count)`` runs in
    this thread (which owns the database connection and checks for cancellation). Exceptions stop everything.
    The AI calls ``work`` makes share the provider's slots as the job's organization (the limiter's fair share)."""
    pending = list(items)
    share = context.job.organization.schema_name if context is not None else ""
    high = context is not None and context.job.priority == Priority.HIGH

    def as_organization(item):
        with fair_share(share, high=high):
            return work(item)

    with ThreadPoolExecutor(max_workers=max(1, limit), thread_name_prefix="qm-ai") as pool:
        running = {}
        done_count = 0
        try:
            while pending or running:
                while pending and len(running) < limit:
                    item = pending.pop(0)
                    running[pool.submit(as_organization, item)] = item
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    done_count += 1
                    on_done(item, future.result(), done_count)
        except BaseException:
            for future in running:
                future.cancel()
            raise
