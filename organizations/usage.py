"""Usage against plan limits and budgets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import IntegerField, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quizzes_this_month(organization) -> int:
    """Quizzes (scripts) in grading jobs started this month that did not fail or get cancelled: what plan limits
    count."""
    from jobs.models import BackgroundJob, JobStatus, JobType

    quizzes = (
        BackgroundJob.objects.filter(organization=organization, job_type=JobType.GRADING, created_at__gte=month_start())
        .exclude(status__in=[JobStatus.FAILED, JobStatus.CANCELLED])
        .aggregate(n=Sum(Cast(KeyTextTransform("quiz_count", "input"), IntegerField())))["n"]
    )
    return quizzes or 0


def cost_this_month(organization) -> Decimal:
    from organizations.models import ProviderCall

    total = ProviderCall.objects.filter(organization=organization, created_at__gte=month_start()).aggregate(
        total=Sum("cost_usd")
    )["total"]
    return total or Decimal("0")


def estimate_cost(model: str, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> Decimal:
    """Estimated US dollars from the price table in settings (unknown models are priced as gpt-4.1-mini)."""
    prompt_price, cached_price, completion_price = settings.AI_PRICES_PER_MILLION.get(
        model, settings.AI_PRICES_PER_MILLION["gpt-4.1-mini"]
    )
    uncached = max(0, prompt_tokens - cached_tokens)
    dollars = (
        uncached * prompt_price + cached_tokens * cached_price + completion_tokens * completion_price
    ) / 1_000_000
    return Decimal(str(round(dollars, 6)))
