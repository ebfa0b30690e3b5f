"""The grades the marking job decides without a provider, and saving a script's grades: its answers' match to the
scheme (numbers, maxima), scores, feedback, review flags, one PointDecision per marking point, and the totals."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from grading.grouping import second_answer_reason
from grading.models import PointDecision, QuestionResult, ScoreChange, Submission, SubmissionStatus
from grading.providers.schemas import Grade
from markschemes.models import MarkScheme

NOT_ANSWERED = "Not answered."
QUESTION_NOT_FOUND = (
    "Question not found on the sheet: a page was hard to read, so its answer may have been missed. Check the page "
    "images and mark it."
)
RENUMBER_FROM = 10000  # temporary numbers while answers move to their scheme question's number


def no_score(number: int, max_score: float, why: str) -> Grade:
    return Grade(
        number=number,
        score=None,
        max_score=max_score,
        confidence=0.0,
        feedback="",
        needs_review=True,
        review_reason=f"The AI could not grade this answer ({why}); please mark it.",
    )


def not_answered(q: QuestionResult, *, hard_pages: bool) -> Grade:
    return Grade(
        number=q.number,
        score=0.0,
        max_score=float(q.max_score),
        confidence=1.0,
        feedback=NOT_ANSWERED,
        needs_review=hard_pages,
        review_reason="A page was hard to read; check that no answer to this question was missed."
        if hard_pages
        else "",
    )


def not_found(q: QuestionResult) -> Grade:
    """A scheme question with no answer found on a script whose pages were hard to read (or where nothing was read):
    its answer may be there, unread. No score; a person looks."""
    return Grade(
        number=q.number,
        score=None,
        max_score=float(q.max_score),
        confidence=0.0,
        feedback="",
        needs_review=True,
        review_reason=QUESTION_NOT_FOUND,
    )


def outside_scheme(q: QuestionResult, *, second_answer: bool = False) -> Grade:
    printed = q.detected_number or q.number
    if second_answer:
        reason = second_answer_reason(printed) + " The second one is shown but not scored."
    else:
        reason = (
            f"The mark scheme has no such question (question {printed} on the sheet); the answer is shown but "
            "never scored."
        )
    return Grade(
        number=q.number,
        score=None,
        max_score=0.0,
        confidence=1.0,
        feedback="",
        needs_review=True,
        review_reason=reason[:300],
    )


def _save_rows(submission: Submission, rows: list[QuestionResult]) -> None:
    """Store the match: existing answers move to their final numbers (through temporary ones, since two may swap),
    then the rows for unanswered questions are created."""
    existing = [r for r in rows if r.pk is not None]
    finals = {r.pk: r.number for r in existing}
    for offset, row in enumerate(existing):
        row.number = RENUMBER_FROM + offset
    QuestionResult.objects.bulk_update(existing, ["number"])
    for row in existing:
        row.number = finals[row.pk]
    QuestionResult.objects.bulk_update(
        existing, ["number", "detected_number", "scheme_question", "outside_scheme", "max_score"]
    )
    QuestionResult.objects.bulk_create([r for r in rows if r.pk is None])


def _assessor_fields(old: PointDecision | None) -> dict:
    if old is None:
        return {}
    return {
        "assessor_met": old.assessor_met,
        "assessor_set_by": old.assessor_set_by,
        "assessor_set_at": old.assessor_set_at,
    }


def _assessor_decisions(submission: Submission) -> dict[tuple, PointDecision]:
    """Delete the submission's point decisions (a re-grade replaces the AI's) and return the assessor's ticks and
    unticks among them, by (answer, marking point), so that the re-grade keeps them: a re-grade asks the AI again,
    it does not overrule a person. The AI's new decision is stored beside the assessor's, as at the first grading."""
    old = PointDecision.objects.filter(question__submission=submission).select_related("point", "question")
    kept = {(d.question_id, d.point_id): d for d in old if d.assessor_met is not None}
    if old:  # a first grading has none to delete (and the delete would read them again)
        old.delete()
    return kept


def _record_dropped_ticks(dropped: dict[tuple, PointDecision], scheme: MarkScheme, grader: str) -> None:
    """Assessor decisions on marking points that the re-grade no longer uses (the answer was marked with another
    scheme version, or moved to another question) cannot be kept on the answer; each answer's history says which
    ones were dropped, so no person's decision disappears without a trace."""
    by_answer: dict[int, list[dict]] = {}
    for (answer_pk, point_pk), old in dropped.items():
        by_answer.setdefault(answer_pk, []).append(
            {"point_id": point_pk, "statement": old.point.statement, "from": old.assessor_met, "to": None}
        )
    answers = QuestionResult.objects.in_bulk(list(by_answer))
    ScoreChange.objects.bulk_create(
        ScoreChange(
            question=answers[answer_pk],
            changed_by=grader or "QuizMarker",
            old_score=answers[answer_pk].effective_score,
            new_score=answers[answer_pk].effective_score,
            old_feedback=answers[answer_pk].feedback,
            new_feedback=answers[answer_pk].feedback,
            points=points,
            reason=(
                f"Re-graded with “{scheme.title}” version {scheme.version}, which does not have these marking "
                "points; the assessor's decisions on them no longer apply."
            )[:500],
        )
        for answer_pk, points in by_answer.items()
        if answer_pk in answers
    )


def save_grades(
    submission: Submission,
    rows: list[QuestionResult],
    result,
    scheme: MarkScheme,
    provider,
    grader: str,
    prompt_version: str,
) -> dict:
    _save_rows(submission, rows)
    by_number = {r.number: r for r in rows}
    kept = _assessor_decisions(submission)
    decisions = []
    for number, grade in result.grades.items():
        q = by_number[number]
        q.ai_score = Decimal(str(grade.score)) if grade.score is not None else None
        q.ai_feedback = grade.feedback
        q.confidence = grade.confidence
        q.needs_review = grade.needs_review
        q.review_reason = grade.review_reason
        if q.scheme_question is not None:
            points = {p.order: p for p in q.scheme_question.points.all()}
            decided = {d.order: d for d in grade.decisions}
            decisions += [
                PointDecision(
                    question=q,
                    point=point,
                    ai_met=decided[order].met if order in decided else None,
                    quote=decided[order].quote if order in decided else "",
                    **_assessor_fields(kept.pop((q.pk, point.pk), None)),
                )
                for order, point in points.items()
            ]
    QuestionResult.objects.bulk_update(rows, ["ai_score", "ai_feedback", "confidence", "needs_review", "review_reason"])
    _record_dropped_ticks(kept, scheme, grader)
    PointDecision.objects.bulk_create(decisions)
    submission.standard = scheme.standard
    submission.mark_scheme = scheme
    submission.provider = provider.name
    submission.model = provider.model
    submission.prompt_version = prompt_version
    submission.prompt_tokens = sum(u.prompt_tokens for u in result.usage)
    submission.cached_tokens = sum(u.cached_tokens for u in result.usage)
    submission.completion_tokens = sum(u.completion_tokens for u in result.usage)
    submission.graded_at = timezone.now()
    submission.graded_by = grader
    needs_review = sum(1 for q in rows if q.needs_review)
    submission.status = SubmissionStatus.NEEDS_REVIEW if needs_review else SubmissionStatus.GRADED
    submission.recompute_totals(rows)
    submission.save()
    met = {}
    for d in decisions:
        if d.ai_met:
            met.setdefault(d.question.number, []).append(d.point.order)
    return {
        "id": str(submission.pk),
        "total_score": str(submission.total_score) if submission.total_score is not None else None,
        "max_score": str(submission.max_score) if submission.max_score is not None else None,
        "percentage": str(submission.percentage) if submission.percentage is not None else None,
        "needs_review": needs_review,
        "mark_scheme_id": scheme.pk,
        "mark_scheme_version": scheme.version,
        "questions": [
            {
                "number": q.number,
                "score": str(q.ai_score) if q.ai_score is not None else None,
                "max_score": str(q.max_score),
                "outside_scheme": q.outside_scheme,
                "points_met": met.get(q.number, []),
                "needs_review": q.needs_review,
                "review_reason": q.review_reason,
            }
            for q in sorted(rows, key=lambda r: r.number)
        ],
    }
