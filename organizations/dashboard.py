"""The super-admin console's reports: the service dashboard and the API usage report (with CSV export).

Charts: organizations.charts computes their geometry, templates/charts/ draws them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from grading.exports import SafeWriter
from jobs.models import BackgroundJob, JobStatus, JobType
from jobs.stats import Percentile, duration_seconds
from organizations.charts import bar_chart, column_chart
from organizations.models import Organization, ProviderCall, UsageMonth
from organizations.usage import month_start

STATUS_COLOURS = {
    JobStatus.QUEUED: "#9aa5b1",
    JobStatus.PROCESSING: "#3b82f6",
    JobStatus.COMPLETED: "#16a34a",
    JobStatus.FAILED: "#dc2626",
    JobStatus.CANCELLED: "#a16207",
}


def require_super_admin(request) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied("Only super admins may open the console's reports.")


# --- The dashboard --------------------------------------------------------------------------------


def dashboard_data(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    month = month_start(now)
    jobs_today = BackgroundJob.objects.filter(created_at__gte=today)
    counts = {row["status"]: row["n"] for row in jobs_today.values("status").annotate(n=Count("id")).order_by()}
    by_status = [(label, counts.get(value, 0), value) for value, label in JobStatus.choices]
    finished = counts.get(JobStatus.COMPLETED, 0) + counts.get(JobStatus.FAILED, 0)
    failure_rate = round(100 * counts.get(JobStatus.FAILED, 0) / finished, 1) if finished else None

    week = now - timedelta(days=7)
    grading = BackgroundJob.objects.filter(
        job_type=JobType.GRADING,
        status=JobStatus.COMPLETED,
        completed_at__gte=week,
        started_at__isnull=False,
    ).aggregate(avg=Avg(duration_seconds()), p95=Percentile(duration_seconds(), percentile=0.95), n=Count("id"))

    oldest = (
        BackgroundJob.objects.filter(status=JobStatus.QUEUED)
        .select_related("organization")
        .order_by("created_at")
        .first()
    )

    calls_month = ProviderCall.objects.filter(created_at__gte=month)
    tokens = calls_month.aggregate(
        prompt=Sum("prompt_tokens"),
        cached=Sum("cached_tokens"),
        completion=Sum("completion_tokens"),
        cost=Sum("cost_usd"),
        calls=Count("id"),
    )
    tokens = {key: value or 0 for key, value in tokens.items()}
    tokens["quizzes"] = UsageMonth.objects.filter(month=month.date()).aggregate(n=Sum("quizzes_graded"))["n"] or 0

    busiest = list(
        Organization.objects.annotate(
            jobs_month=Count("jobs", filter=Q(jobs__created_at__gte=month), distinct=True),
        )
        .filter(jobs_month__gt=0)
        .order_by("-jobs_month", "name")[:8]
    )
    cost_by_org = dict(
        calls_month.values("organization_id").annotate(c=Sum("cost_usd")).values_list("organization_id", "c")
    )
    for organization in busiest:
        organization.cost_month = cost_by_org.get(organization.pk) or Decimal("0")

    days = [(today - timedelta(days=d)).date() for d in range(13, -1, -1)]
    per_day = {
        (row["day"], row["status"]): row["n"]
        for row in BackgroundJob.objects.filter(created_at__gte=today - timedelta(days=13))
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    cost_per_day = dict(
        calls_month.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(c=Sum("cost_usd"))
        .values_list("day", "c")
    )
    month_days = [month.date() + timedelta(days=d) for d in range((today.date() - month.date()).days + 1)]

    return {
        "now": now,
        "jobs_today": sum(counts.values()),
        "by_status": by_status,
        "failure_rate": failure_rate,
        "grading_avg": grading["avg"],
        "grading_p95": grading["p95"],
        "grading_count": grading["n"],
        "oldest_queued": oldest,
        "oldest_queued_age": (now - oldest.created_at) if oldest else None,
        "tokens": tokens,
        "busiest": busiest,
        "month": month,
        "status_chart": bar_chart(
            [(label, n, STATUS_COLOURS[value]) for label, n, value in by_status], title="Jobs by status today"
        ),
        "daily_chart": column_chart(
            [
                (
                    day.strftime("%d %b"),
                    [(per_day.get((day, status), 0), STATUS_COLOURS[status]) for status in JobStatus.values],
                )
                for day in days
            ],
            title="Jobs per day, last 14 days, by status",
        ),
        "cost_chart": column_chart(
            [(day.strftime("%d"), [(cost_per_day.get(day) or 0, "#7c3aed")]) for day in month_days],
            title="Estimated AI cost per day this month (US dollars)",
            decimals=2,
        ),
        "busiest_chart": bar_chart(
            [(o.name, o.jobs_month, "#0f766e") for o in busiest], title="Busiest organizations this month (jobs)"
        ),
        "legend": [(label, STATUS_COLOURS[value]) for value, label in JobStatus.choices],
    }


def admin_dashboard(request):
    require_super_admin(request)
    from jobs.models import Alert

    context = {
        **admin.site.each_context(request),
        "title": "Service dashboard",
        **dashboard_data(),
        "alerts": Alert.objects.filter(resolved_at__isnull=True).order_by("opened_at"),
    }
    return TemplateResponse(request, "admin/quizmarker_dashboard.html", context)


# --- API usage per organization per month ----------------------------------------------------------

# What a usage row counts, in the CSV's order; the report's totals add these up, and the cost.
COUNTS = (
    "quizzes_graded",
    "calls",
    "failed_calls",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "total_tokens",
)
CSV_COLUMNS = ["month", "organization", "slug", *COUNTS, "estimated_cost_usd", "monthly_budget_usd"]


def parse_month(value: str | None) -> datetime | None:
    """Parse "2026-03" into the start of that month (UTC, as usage is counted); None for empty or malformed values."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC)


def usage_rows(month: datetime | None = None, organization_id: int | None = None) -> list[dict]:
    """One row per organization per month (UTC): scripts graded (the ledger), AI calls, tokens (prompt / cached /
    completion) and estimated cost. Both sources are durable: job clean-up never removes them."""
    calls = ProviderCall.objects.all()
    ledger = UsageMonth.objects.all()
    if month is not None:
        next_month = month_start(month + timedelta(days=32))
        calls = calls.filter(created_at__gte=month, created_at__lt=next_month)
        ledger = ledger.filter(month=month.date())
    if organization_id:
        calls = calls.filter(organization_id=organization_id)
        ledger = ledger.filter(organization_id=organization_id)
    organization_fields = ("organization_id", "organization__name", "organization__slug")
    budget_field = "organization__monthly_budget_usd"
    by_key: dict[tuple, dict] = {}
    for row in (
        calls.annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("month", *organization_fields, budget_field)
        .annotate(
            calls=Count("id"),
            failed_calls=Count("id", filter=Q(succeeded=False)),
            prompt_tokens=Sum("prompt_tokens"),
            cached_tokens=Sum("cached_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost_usd=Sum("cost_usd"),
        )
        .order_by()
    ):
        by_key[(row["month"].date(), row["organization_id"])] = row | {"quizzes_graded": 0}
    empty = dict.fromkeys(("calls", "failed_calls", "prompt_tokens", "cached_tokens", "completion_tokens"), 0)
    for entry in ledger.values("month", "quizzes_graded", *organization_fields, budget_field):
        key = (entry["month"], entry["organization_id"])
        by_key.setdefault(key, entry | empty | {"cost_usd": Decimal("0")})["quizzes_graded"] = entry["quizzes_graded"]
    current = month_start().date()
    rows = sorted(by_key.items(), key=lambda item: (-item[0][0].toordinal(), item[1]["organization__name"]))
    result = []
    for (row_month, _), row in rows:
        row["month_label"] = row_month.strftime("%Y-%m")
        row["total_tokens"] = row["prompt_tokens"] + row["completion_tokens"]
        row["cost_usd"] = (row["cost_usd"] or Decimal("0")).quantize(Decimal("0.0001"))
        budget = row[budget_field]
        row["budget_percent"] = round(100 * row["cost_usd"] / budget) if budget and row_month == current else None
        result.append(row)
    return result


def usage_totals(rows: list[dict]) -> dict:
    totals = {key: sum(row[key] for row in rows) for key in COUNTS}
    return totals | {"cost_usd": sum((row["cost_usd"] for row in rows), Decimal("0"))}


def usage_csv(rows: list[dict]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="quizmarker-api-usage.csv"'
    writer = SafeWriter(response)  # names and slugs starting with = + - @ are not run as formulas
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        budget = row["organization__monthly_budget_usd"]
        writer.writerow(
            [
                row["month_label"],
                row["organization__name"],
                row["organization__slug"],
                *(row[key] for key in COUNTS),
                f"{row['cost_usd']:.4f}",
                f"{budget:.2f}" if budget is not None else "",
            ]
        )
    return response


def usage_report(request):
    require_super_admin(request)
    month = parse_month(request.GET.get("month"))
    try:
        organization_id = int(request.GET.get("organization") or 0) or None
    except ValueError:
        organization_id = None
    rows = usage_rows(month, organization_id)
    if request.GET.get("export") == "csv":
        return usage_csv(rows)
    query = request.GET.copy()
    query["export"] = "csv"
    context = {
        **admin.site.each_context(request),
        "title": "API usage by organization and month",
        "rows": rows,
        "totals": usage_totals(rows),
        "month": request.GET.get("month", "") if month else "",
        "organization_id": organization_id,
        "organizations": Organization.objects.order_by("name"),
        "csv_url": f"{request.path}?{query.urlencode()}",
        "months": _recent_months(12),
        "budget_url": reverse("admin:organizations_organization_changelist"),
    }
    return TemplateResponse(request, "admin/quizmarker_usage.html", context)


def _recent_months(n: int) -> list[str]:
    start = month_start()
    months = []
    for _ in range(n):
        months.append(start.strftime("%Y-%m"))
        start = (start - timedelta(days=1)).replace(day=1)
    return months
