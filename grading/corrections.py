"""An assessor's corrections to a graded answer: a score, feedback, or ticks on marking points, audited.

The AI's score and decisions stay as they were; the assessor's are kept beside them (``final_*``, ``assessor_*``) with
a ``ScoreChange`` row that says who, what and why. A question's maximum is the mark scheme's and is never corrected
here."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from grading.errors import Invalid
from grading.events import submission_reviewed
from grading.models import QuestionResult, ScoreChange, Submission, SubmissionStatus
from markschemes.scoring import points_score
from quizmarker.events import send_on_commit

MAX_FROM_SCHEME = (
    "A question's maximum marks come only from the mark scheme, never from the sheet or a correction; "
    "change the mark scheme to change them."
)


def _tick_points(question: QuestionResult, points: Mapping[int, bool], *, by: str) -> tuple[list[dict], Decimal]:
    """Record the assessor's tick (or untick) on each named marking point of ``question`` whose decision changes.
    Returns the changes (for the audit trail) and the score the points that count now give. Called inside
    override_score's transaction."""
    decisions = {
        d.point_id: d for d in question.point_decisions.select_related("point").select_for_update(of=("self",))
    }
    if not decisions:
        raise Invalid(
            f"Question {question.number} was not marked by marking points, so there are none to tick; set a score.",
            code="VALIDATION_ERROR",
            details={"points": ["This answer has no marking points."]},
        )
    unknown = sorted(str(point_id) for point_id in points if point_id not in decisions)
    if unknown:
        raise Invalid(
            f"Question {question.number} has no marking point {', '.join(unknown)}.",
            code="VALIDATION_ERROR",
            details={"points": [f"Not a marking point of question {question.number}: {', '.join(unknown)}."]},
        )
    changes, now = [], timezone.now()
    for point_id, met in points.items():
        decision = decisions[point_id]
        if decision.met == met:
            continue
        changes.append({"point_id": point_id, "statement": decision.point.statement, "from": decision.met, "to": met})
        decision.assessor_met, decision.assessor_set_by, decision.assessor_set_at = met, by, now
        decision.save(update_fields=["assessor_met", "assessor_set_by", "assessor_set_at"])
    return changes, points_score(question.max_score, [d.point.marks for d in decisions.values() if d.met])


def override_score(
    question: QuestionResult,
    *,
    by: str,
    score: Decimal | None,
    feedback: str | None,
    reason: str,
    points: Mapping[int, bool] | None = None,
) -> QuestionResult:
    """An assessor sets the final score and/or feedback, or ticks and unticks marking points (``points``: marking
    point id → met). The AI's score and decisions stay; the change is audited. When a point's decision changes and no
    score is given, the score follows the points: the sum of the met points' marks, capped at the maximum."""
    if not reason.strip():
        raise Invalid(
            "Say why you are changing the mark.",
            code="VALIDATION_ERROR",
            details={"reason": ["This field is required."]},
        )
    if score is not None and not (0 <= score <= question.max_score):
        raise Invalid(
            f"The score must be between 0 and {question.max_score}.",
            code="VALIDATION_ERROR",
            details={"score": [f"Between 0 and {question.max_score}."]},
        )
    with transaction.atomic():
        question = QuestionResult.objects.select_for_update().get(pk=question.pk)
        point_changes, points_total = _tick_points(question, points, by=by) if points else ([], None)
        if score is None and point_changes:
            score = points_total
        ScoreChange.objects.create(
            question=question,
            changed_by=by,
            old_score=question.effective_score,
            new_score=score if score is not None else question.effective_score,
            old_feedback=question.feedback,
            new_feedback=feedback if feedback is not None else question.feedback,
            points=point_changes,
            reason=reason.strip()[:500],
        )
        if score is not None:
            question.final_score = score
        if feedback is not None:
            question.final_feedback = feedback
        question.final_set_by = by
        question.final_set_at = timezone.now()
        question.save()
        submission = Submission.objects.select_for_update().get(pk=question.submission_id)
        submission.recompute_totals()
        open_reviews = submission.questions.filter(needs_review=True, final_score__isnull=True).exists()
        if submission.status in (SubmissionStatus.GRADED, SubmissionStatus.NEEDS_REVIEW, SubmissionStatus.REVIEWED):
            submission.status = SubmissionStatus.NEEDS_REVIEW if open_reviews else SubmissionStatus.REVIEWED
        submission.save()
        schema_name = connection.schema_name
        send_on_commit(  # the submission.reviewed webhook listens; it never raises into the request
            submission_reviewed,
            Submission,
            schema_name=schema_name,
            submission_id=submission.pk,
            question_number=question.number,
        )
    return question
