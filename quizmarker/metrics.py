"""Prometheus metrics: what QuizMarker counts, and ``/metrics`` to read them.

Every process (web workers, Celery workers) counts in its own files under ``PROMETHEUS_MULTIPROC_DIR`` (set by
``make run`` and docker/compose.yml before any process starts; prometheus-client's multiprocess mode), and
``/metrics`` on any web process adds them all up. Without that variable each process counts only for itself.

Who may read it: a request carrying ``Authorization: Bearer <METRICS_TOKEN>``, or one from an address in
``METRICS_ALLOWED_IPS`` (addresses or networks). Anyone else gets 404, so the address says nothing.

Labels are bounded: routes are URL patterns (``/api/v1/jobs/<uuid:job_id>``), never paths; organizations appear only
as named in ``METRICS_ORGANIZATIONS`` (others are ``other``; ``all`` when the setting is empty).
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import os
import time

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter(
    "quizmarker_http_requests", "HTTP requests answered, by route and status.", ["route", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "quizmarker_http_request_duration_seconds",
    "Time to answer a request (to the first byte of a stream), by route.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOBS_STARTED = Counter("quizmarker_jobs_started", "Job attempts started by a worker.", ["job_type", "organization"])
JOBS_FINISHED = Counter(
    "quizmarker_jobs_finished", "Jobs finished, by type and final status.", ["job_type", "status", "organization"]
)
JOB_SECONDS = Histogram(
    "quizmarker_job_duration_seconds",
    "From a job's first start to its end, by type and final status.",
    ["job_type", "status"],
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800),
)
PROVIDER_CALLS = Counter(
    "quizmarker_provider_calls",
    "AI provider calls, by outcome (succeeded or failed).",
    ["provider", "purpose", "outcome"],
)
PROVIDER_SECONDS = Histogram(
    "quizmarker_provider_call_duration_seconds",
    "AI provider call latency.",
    ["provider", "purpose"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90),
)
PROVIDER_TOKENS = Counter(
    "quizmarker_provider_tokens", "Tokens used, by kind (prompt, cached, completion).", ["provider", "kind"]
)
PROVIDER_COST = Counter("quizmarker_provider_cost_usd", "Estimated cost of AI calls in US dollars.", ["provider"])
LIMITER_WAIT_SECONDS = Histogram(
    "quizmarker_limiter_wait_seconds",
    "How long an AI call waited for the shared limiter's slot.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
)

FINISHED = ("completed", "failed", "cancelled")


def organization_label(slug: str | None) -> str:
    named = settings.METRICS_ORGANIZATIONS
    if not named:
        return "all"
    return slug if slug in named else "other"


def job_status_changed(job, status: str) -> None:
    """Count a committed status change of a job (called by jobs.live after commit)."""
    organization = organization_label(getattr(job.organization, "slug", None))
    if status == "processing":
        JOBS_STARTED.labels(job.job_type, organization).inc()
    elif status in FINISHED:
        JOBS_FINISHED.labels(job.job_type, status, organization).inc()
        if job.started_at and job.completed_at:
            JOB_SECONDS.labels(job.job_type, status).observe((job.completed_at - job.started_at).total_seconds())


def provider_call(usage, cost_usd) -> None:
    PROVIDER_CALLS.labels(usage.provider, usage.purpose, "succeeded" if usage.succeeded else "failed").inc()
    PROVIDER_SECONDS.labels(usage.provider, usage.purpose).observe(usage.latency_ms / 1000)
    for kind in ("prompt", "cached", "completion"):
        PROVIDER_TOKENS.labels(usage.provider, kind).inc(getattr(usage, f"{kind}_tokens") or 0)
    PROVIDER_COST.labels(usage.provider).inc(float(cost_usd or 0))


def limiter_waited(seconds: float) -> None:
    LIMITER_WAIT_SECONDS.observe(max(0.0, seconds))


# --- Queue figures, read when scraped -----------------------------------------------------------


class QueueCollector:
    """Queue depth and the oldest queued job's age per job type, and jobs processing, from the database at scrape."""

    def collect(self):
        from django.db.models import Count, Min
        from django.utils import timezone

        from jobs.models import BackgroundJob, JobStatus, JobType

        depth = GaugeMetricFamily("quizmarker_jobs_queued", "Jobs waiting for a worker.", labels=["job_type"])
        oldest = GaugeMetricFamily(
            "quizmarker_oldest_queued_job_age_seconds",
            "Age of the oldest job waiting for a worker.",
            labels=["job_type"],
        )
        processing = GaugeMetricFamily("quizmarker_jobs_processing", "Jobs running now.", labels=["job_type"])
        now = timezone.now()
        queued = {
            row["job_type"]: row
            for row in BackgroundJob.objects.filter(status=JobStatus.QUEUED)
            .values("job_type")
            .annotate(n=Count("id"), oldest=Min("created_at"))
        }
        running = dict(
            BackgroundJob.objects.filter(status=JobStatus.PROCESSING)
            .values("job_type")
            .annotate(n=Count("id"))
            .values_list("job_type", "n")
        )
        for job_type in JobType.values:
            row = queued.get(job_type)
            depth.add_metric([job_type], row["n"] if row else 0)
            oldest.add_metric([job_type], (now - row["oldest"]).total_seconds() if row else 0)
            processing.add_metric([job_type], running.get(job_type, 0))
        yield from (depth, oldest, processing)


class _Merged:
    """The counts every process wrote into its files (prometheus-client's multiprocess mode), added up."""

    def __init__(self, files: list[str]):
        self.files = files

    def collect(self):
        return multiprocess.MultiProcessCollector.merge(self.files, accumulate=True)


def _count_files() -> list[str] | None:
    """Every process's count files: under METRICS_MULTIPROC_ROOT, one folder per container (docker/), else this
    stack's PROMETHEUS_MULTIPROC_DIR; None when processes count only for themselves."""
    if settings.METRICS_MULTIPROC_ROOT:
        return glob.glob(os.path.join(settings.METRICS_MULTIPROC_ROOT, "*", "*.db"))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db"))
    return None


def exposition() -> bytes:
    registry = CollectorRegistry()
    registry.register(QueueCollector())
    files = _count_files()
    if files is None:
        return generate_latest(REGISTRY) + generate_latest(registry)
    registry.register(_Merged(files))
    return generate_latest(registry)


def may_read(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request):
    if not may_read(request):
        raise Http404("Not found.")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# --- Requests -----------------------------------------------------------------------------------


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or "").lstrip("^").rstrip("$")


@sync_and_async_middleware
def request_metrics_middleware(get_response):
    """Requests by route, method and status, with latency; sync or async as the rest of the chain is, so an async
    view (the event streams) stays on the event loop."""

    def record(request, response, started: float) -> None:
        route = _route(request)
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)

    if iscoroutinefunction(get_response):

        async def middleware(request):
            started = time.perf_counter()
            response = await get_response(request)
            record(request, response, started)
            return response

    else:

        def middleware(request):
            started = time.perf_counter()
            response = get_response(request)
            record(request, response, started)
            return response

    return middleware
