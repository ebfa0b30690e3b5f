"""Results of a graded script, assessor overrides with their audit trail, and the review queue."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from grading.corrections import override_score
from grading.forms import OverrideForm
from grading.models import PointDecision, QuestionResult, ScoreChange
from grading.views.common import get_submission, passed, safe_next, standard_titles
from jobs.models import ACTIVE_STATUSES, BackgroundJob
from quizmarker.errors import DomainError


def marks(value) -> str:
    """2.00 → "2", 1.50 → "1.5"."""
    return "—" if value is None else f"{value.normalize():f}"


def override_form(question: QuestionResult) -> OverrideForm:
    form = OverrideForm(
        initial={"score": question.effective_score, "feedback": question.feedback},
        auto_id=f"q{question.number}-%s",
    )
    form.decisions = list(question.point_decisions.select_related("point"))  # the points to tick or untick
    return form


def ticked_points(request, question: QuestionResult) -> dict[int, bool]:
    """The marking points whose tick the assessor changed on the form (point id → met). The form lists every point
    with a box, checked when it counts as met; ``points_shown`` says the boxes were there to untick."""
    if not request.POST.get("points_shown"):
        return {}
    ticked = set(request.POST.getlist("point"))
    return {
        d.point_id: str(d.point_id) in ticked
        for d in question.point_decisions.all()
        if (str(d.point_id) in ticked) != d.met
    }


@login_required
def submission_detail(request, submission_id):
    submission = get_submission(submission_id)
    organization = request.organization
    questions = list(
        submission.questions.order_by("number").prefetch_related(
            Prefetch("changes", queryset=ScoreChange.objects.order_by("-changed_at")),
            Prefetch(
                "point_decisions", queryset=PointDecision.objects.select_related("point").order_by("point__order")
            ),
        )
    )
    for question in questions:
        question.form = override_form(question)
    grading_job = None
    if submission.grading_job_id:
        grading_job = BackgroundJob.objects.filter(pk=submission.grading_job_id, organization=organization).first()
    scored = [q for q in questions if q.ai_score is not None or q.final_score is not None]
    return render(
        request,
        "grading/submission_detail.html",
        {
            "submission": submission,
            "questions": questions,
            "grading_job": grading_job,
            "grading_active": grading_job is not None and grading_job.status in ACTIVE_STATUSES,
            "passed": passed(submission, organization),
            "open_flags": sum(1 for q in questions if q.needs_review and q.final_score is None),
            "changed_count": sum(1 for q in questions if q.final_score is not None and q.final_score != q.ai_score),
            "scored_count": len(scored),
            "pages": list(submission.pages.order_by("number")),
            "title": standard_titles().get(submission.standard) if submission.standard else None,
        },
    )


@require_POST
@login_required
def override(request, submission_id, number: int):
    submission = get_submission(submission_id)
    question = get_object_or_404(submission.questions, number=number)
    points = ticked_points(request, question)
    form = OverrideForm(
        request.POST,
        initial={"score": question.effective_score, "feedback": question.feedback},
        points_changed=bool(points),
    )
    if form.is_valid():
        feedback = form.cleaned_data["feedback"] if "feedback" in form.changed_data else None
        score = form.cleaned_data["score"]
        if points and "score" not in form.changed_data:
            score = None  # the score follows the points
        try:
            override_score(
                question,
                by=request.user.email,
                score=score,
                feedback=feedback,
                reason=form.cleaned_data["reason"],
                points=points,
            )
        except DomainError as exc:
            messages.error(request, f"Question {number}: {exc.message}")
        else:
            question.refresh_from_db()
            messages.success(
                request,
                f"Question {number} now scores {marks(question.effective_score)} / {marks(question.max_score)}. "
                "The AI's score and your reason are kept in the history.",
            )
    else:
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        messages.error(request, f"Question {number} was not changed: {' '.join(errors)}")
    target = safe_next(request)
    if target:
        return redirect(target)
    return redirect(reverse("grading:submission-detail", args=[submission.pk]) + f"#q{number}")


@login_required
def review_queue(request):
    """Every flagged question nobody has marked yet, across the organization."""
    items = list(
        QuestionResult.objects.filter(needs_review=True, final_score__isnull=True)
        .select_related("submission__student")
        .order_by("submission__created_at", "submission_id", "number")[:200]
    )
    for item in items:
        item.form = override_form(item)
    total = QuestionResult.objects.filter(needs_review=True, final_score__isnull=True).count()
    return render(
        request,
        "grading/review_queue.html",
        {"items": items, "total": total, "titles": standard_titles()},
    )
