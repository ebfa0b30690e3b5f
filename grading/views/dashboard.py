"""The organization's start page: what is running, what was uploaded, what needs a person, and usage."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from grading.models import QuestionResult, Submission, SubmissionStatus
from grading.views.common import standard_titles
from jobs.models import ACTIVE_STATUSES, JobStatus
from jobs.visibility import visible_jobs
from organizations.usage import month_start, quizzes_this_month
from quizmarker.broker import broker_up


@login_required
def dashboard(request):
    organization = request.organization
    jobs = visible_jobs(request.user, organization, request.membership)
    active_jobs = list(jobs.filter(status__in=ACTIVE_STATUSES).order_by("-created_at")[:10])
    failed_jobs = list(
        jobs.filter(status=JobStatus.FAILED, created_at__gte=timezone.now() - timezone.timedelta(days=2)).order_by(
            "-created_at"
        )[:5]
    )
    flagged = QuestionResult.objects.filter(needs_review=True, final_score__isnull=True)
    used = quizzes_this_month(organization)
    limit = organization.quiz_limit
    started = month_start()
    context = {
        "active_jobs": active_jobs,
        "failed_jobs": failed_jobs,
        "recent_submissions": Submission.objects.select_related("student").order_by("-created_at")[:8],
        "ready_to_grade": Submission.objects.select_related("student")
        .filter(status=SubmissionStatus.EXTRACTED)
        .order_by("-created_at")[:5],
        "ready_count": Submission.objects.filter(status=SubmissionStatus.EXTRACTED).count(),
        "review_items": flagged.select_related("submission__student").order_by("-submission__created_at", "number")[:6],
        "review_count": flagged.count(),
        "graded_this_month": Submission.objects.filter(graded_at__gte=started).count(),
        "quizzes_used": used,
        "quiz_limit": limit,
        "usage_percent": min(100, round(100 * used / limit)) if limit else 0,
        "usage_near_limit": bool(limit) and used >= 0.8 * limit,
        "month": started.strftime("%B %Y"),
        "titles": standard_titles(),
        "processing_paused": not broker_up(),
    }
    return render(request, "organizations/dashboard.html", context)
