"""How the submission endpoints (grading.api, grading.script_api) read submissions: with their student, mark scheme
and questions in order, and a 404 in the API's words when one is not there."""

from __future__ import annotations

from django.db.models import Prefetch

from grading.errors import found
from grading.models import QuestionResult, Submission


def submissions_with_questions():
    """Submissions with what their serializers show, loaded in three queries however many there are."""
    return Submission.objects.select_related("student", "mark_scheme").prefetch_related(
        Prefetch("questions", queryset=QuestionResult.objects.order_by("number"))
    )


def submission_or_404(submission_id) -> Submission:
    return found(submissions_with_questions().filter(pk=submission_id).first(), "submission")
