"""Students: a searchable list and each student's history across standards."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Max, Q
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode

from grading.analytics import GRADED_STATUSES
from grading.models import Student
from grading.views.common import passed, standard_titles, submissions


@login_required
def student_list(request):
    search = request.GET.get("q", "").strip()[:100]
    students = Student.objects.annotate(
        submission_count=Count("submissions", distinct=True),
        average=Avg("submissions__percentage", filter=Q(submissions__status__in=GRADED_STATUSES)),
        last_seen=Max("submissions__created_at"),
    ).order_by("full_name")
    if search:
        students = students.filter(Q(full_name__icontains=search) | Q(reference__icontains=search))
    page = Paginator(students, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "grading/student_list.html",
        {"page": page, "search": search, "query": urlencode({"q": search}) if search else ""},
    )


@login_required
def student_detail(request, student_id: int):
    student = get_object_or_404(Student, pk=student_id)
    history = list(submissions().filter(student=student).order_by("-created_at"))
    titles = standard_titles()
    by_standard: dict[int, dict] = {}
    for submission in history:
        submission.passed = passed(submission, request.organization)
        if submission.standard is None:
            continue
        row = by_standard.setdefault(
            submission.standard,
            {"standard": submission.standard, "title": titles.get(submission.standard, ""), "attempts": 0},
        )
        row["attempts"] += 1
        if submission.percentage is not None and (
            row.get("best") is None or submission.percentage > row["best"].percentage
        ):
            row["best"] = submission
        row.setdefault("latest", submission)
    return render(
        request,
        "grading/student_detail.html",
        {
            "student": student,
            "history": history,
            "standards": sorted(by_standard.values(), key=lambda r: r["standard"]),
            "titles": titles,
        },
    )
