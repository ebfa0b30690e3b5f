"""The submissions list with its filters, the CSV export of the same list, and per-standard analytics."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from grading import analytics, exports
from grading.forms import SubmissionFilterForm
from grading.models import Submission
from grading.views.common import passed, standards, submissions

OPEN_FLAG = Q(questions__needs_review=True, questions__final_score__isnull=True)


def _day_bound(day, end: bool) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def filtered(request, library):
    """The filter form and the submissions it selects (an invalid filter selects nothing but the valid parts)."""
    form = SubmissionFilterForm(request.GET or None, standards=library)
    queryset = submissions().order_by("-created_at")
    if not form.is_bound:
        return form, queryset
    form.is_valid()
    data = form.cleaned_data
    if data.get("standard"):
        queryset = queryset.filter(standard=int(data["standard"]))
    if data.get("student"):
        queryset = queryset.filter(student_id=int(data["student"]))
    if data.get("status"):
        queryset = queryset.filter(status=data["status"])
    if data.get("date_from"):
        queryset = queryset.filter(created_at__gte=_day_bound(data["date_from"], end=False))
    if data.get("date_to"):
        queryset = queryset.filter(created_at__lte=_day_bound(data["date_to"], end=True))
    if data.get("needs_review") == "yes":
        queryset = queryset.filter(pk__in=Submission.objects.filter(OPEN_FLAG).values("pk"))
    elif data.get("needs_review") == "no":
        queryset = queryset.exclude(pk__in=Submission.objects.filter(OPEN_FLAG).values("pk"))
    return form, queryset


@login_required
def submission_list(request):
    library = standards()
    form, queryset = filtered(request, library)
    page = Paginator(queryset, 25).get_page(request.GET.get("page"))
    for submission in page.object_list:
        submission.passed = passed(submission, request.organization)
        submission.open_flags = sum(1 for q in submission.questions.all() if q.needs_review and q.final_score is None)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "grading/submission_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
            "titles": {s.id: s.title for s in library},
        },
    )


@login_required
def export_csv(request):
    _form, queryset = filtered(request, standards())
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response = StreamingHttpResponse(
        exports.stream(queryset.iterator(chunk_size=200), request.organization.pass_mark),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="submissions-{request.organization.slug}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def analytics_overview(request):
    library = standards()
    return render(
        request,
        "grading/analytics_overview.html",
        {
            "rows": analytics.standards_overview(library),
            "agreement": analytics.agreement(analytics.graded_submissions()),
        },
    )


@login_required
def analytics_standard(request, standard: int):
    library = {s.id: s for s in standards()}
    if standard not in library:
        raise Http404("No such standard.")
    graded = analytics.graded_submissions(standard)
    pass_mark = request.organization.pass_mark
    percentages = [p for p in graded.values_list("percentage", flat=True) if p is not None]
    buckets = analytics.distribution(percentages, pass_mark)
    return render(
        request,
        "grading/analytics_standard.html",
        {
            "standard": library[standard],
            "count": graded.count(),
            "scored_count": len(percentages),
            "average": round(sum(percentages) / len(percentages), 1) if percentages else None,
            "pass_rate": round(100 * sum(1 for p in percentages if p >= pass_mark) / len(percentages))
            if percentages
            else None,
            "chart": analytics.chart(buckets),
            "buckets": buckets,
            "questions": analytics.question_stats(graded),
            "points": analytics.point_agreement(graded),
            "agreement": analytics.agreement(graded),
            "standards": sorted(library.values(), key=lambda s: s.id),
        },
    )
