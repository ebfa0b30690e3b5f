"""Usage against plan limits and budgets, read from durable records only.

A month is a calendar month in UTC: usage belongs to the month in which grading completed, and plan limits reset at
00:00 UTC on the 1st. Scripts graded are counted in the ledger (:class:`organizations.models.UsageMonth`), written in
the transaction that completes the grading job; AI calls and their estimated cost are the ProviderCall rows, written as
each call returns (so a cancelled or failed job's calls count too). Neither is ever removed by the jobs' clean-up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import IntegerField, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone


def month_start(now: datetime | None = None) -> datetime:
    """00:00 UTC on the 1st of the month of ``now`` (default: this month)."""
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def record_graded(organization_id: int, quizzes: int, now: datetime | None = None) -> None:
    """Add a completed grading job's scripts to the ledger for this month. Call it in the transaction that completes
    the job: one statement (insert or add), so concurrent completions never lose a count."""
    from organizations.models import UsageMonth

    table = connection.ops.quote_name(UsageMonth._meta.db_table)
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, month, quizzes_graded, grading_jobs, updated_at) "
            "VALUES (%s, %s, %s, 1, %s) ON CONFLICT (organization_id, month) DO UPDATE SET "
            f"quizzes_graded = {table}.quizzes_graded + EXCLUDED.quizzes_graded, "
            f"grading_jobs = {table}.grading_jobs + 1, updated_at = EXCLUDED.updated_at",
            [organization_id, month_start(now).date(), quizzes, now],
        )


def quizzes_graded(organization, now: datetime | None = None) -> int:
    """Scripts whose grading completed this month (the ledger)."""
    from organizations.models import UsageMonth

    row = UsageMonth.objects.filter(organization=organization, month=month_start(now).date()).first()
    return row.quizzes_graded if row else 0


def quizzes_in_progress(organization) -> int:
    """Scripts in grading jobs that are queued or running: reserved against the limit until they finish."""
    from jobs.models import ACTIVE_STATUSES, BackgroundJob, JobType

    quizzes = BackgroundJob.objects.filter(
        organization=organization, job_type=JobType.GRADING, status__in=ACTIVE_STATUSES
    ).aggregate(n=Sum(Cast(KeyTextTransform("quiz_count", "input"), IntegerField())))["n"]
    return quizzes or 0


def quizzes_this_month(organization, now: datetime | None = None) -> int:
    """What plan limits count: scripts graded this month plus those being graded now."""
    return quizzes_graded(organization, now) + quizzes_in_progress(organization)


def lock_usage(organization) -> None:
    """Serialize limit checks of one organization until the surrounding transaction ends, so two gradings racing for
    the plan's last quiz cannot both be accepted (the second one's check sees the first one's job)."""
    from organizations.models import Organization

    list(Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).values_list("pk", flat=True))


def cost_this_month(organization, now: datetime | None = None) -> Decimal:
    from organizations.models import ProviderCall

    total = ProviderCall.objects.filter(organization=organization, created_at__gte=month_start(now)).aggregate(
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
