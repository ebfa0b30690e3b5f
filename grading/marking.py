"""The grading job: each script's answers → matched to the mark scheme's questions → one combined AI call that
decides, per marking point, whether each answer makes it → validated, else question by question → saved with the
scheme version, the point decisions and their quotes. A question that still cannot be graded gets no score and goes
to a person.

Marks come only from the scheme: a matched answer's maximum is its scheme question's; an answer to a question the
scheme does not have is kept, shown and flagged but never scored; a scheme question nobody answered scores 0 "not
answered" (flagged when a page was hard to read); a sheet showing another standard than the scheme's is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from grading.events import submissions_graded
from grading.marking_records import no_score, not_answered, not_found, outside_scheme, save_grades
from grading.matching import Printed, match_answers
from grading.models import QuestionResult, Submission
from grading.notifications import queue_grading_complete_email
from grading.pipeline import hard_to_read, provider_for, record_usage, run_bounded
from grading.providers.base import Provider
from grading.providers.instructions import split_instructions
from grading.providers.schemas import (
    GRADING_PROMPT_VERSION,
    AnswerToGrade,
    Grade,
    InvalidReply,
    PointToJudge,
    Usage,
)
from jobs.errors import PermanentJobError, TransientJobError
from jobs.running import JobContext
from markschemes.models import MarkScheme
from markschemes.services import published_for_standard
from markschemes.subjects import reference_for
from organizations.usage import record_graded
from quizmarker.events import send_on_commit


@dataclass
class ScriptGrades:
    submission_id: object
    grades: dict[int, Grade]
    usage: list[Usage]
    notes: list[str]


def match_to_scheme(submission: Submission, scheme: MarkScheme) -> list[QuestionResult]:
    """The submission's answers, each given its scheme question (and that question's number and maximum) or marked
    outside the scheme, plus an unsaved row for every scheme question nobody answered. Nothing is saved here."""
    answers = list(submission.questions.all())
    scheme_questions = {q.number: q for q in scheme.questions.all()}
    printed = [Printed(key=a.pk, number=a.detected_number or a.number, question=a.question_text) for a in answers]
    matched = match_answers(printed, {n: q.text for n, q in scheme_questions.items()})
    rows: list[QuestionResult] = []
    for answer, sheet in zip(answers, printed, strict=True):
        number = matched[answer.pk]
        answer.detected_number = sheet.number
        if number is None:
            answer.scheme_question, answer.outside_scheme, answer.max_score = None, True, 0
        else:
            question = scheme_questions[number]
            answer.scheme_question, answer.outside_scheme, answer.max_score = question, False, question.max_marks
            answer.number = number
        rows.append(answer)
    taken = {r.number for r in rows if not r.outside_scheme}
    for number, question in scheme_questions.items():
        if number not in taken:
            rows.append(
                QuestionResult(
                    submission=submission,
                    number=number,
                    question_text=question.text,
                    answer_text="",
                    scheme_question=question,
                    max_score=question.max_marks,
                )
            )
    used = set(scheme_questions)
    for row in sorted((r for r in rows if r.outside_scheme), key=lambda r: r.detected_number):
        if row.detected_number in used:
            row.number = max(used | {0}) + 1
        else:
            row.number = row.detected_number
        used.add(row.number)
    for row in rows:
        if row.detected_number == row.number:
            row.detected_number = None  # kept only when the sheet's number differs
    return sorted(rows, key=lambda r: r.number)


def _answer_to_grade(q: QuestionResult, cleaned: str) -> AnswerToGrade:
    points = [
        PointToJudge(order=p.order, statement=p.statement, marks=float(p.marks)) for p in q.scheme_question.points.all()
    ]
    return AnswerToGrade(
        number=q.number,
        question=q.scheme_question.text,
        answer=cleaned,
        max_score=float(q.max_score),
        points=points,
        model_answer=q.scheme_question.model_answer,
    )


def _grade_alone(provider: Provider, standard, reference: str, answer: AnswerToGrade, usage: list[Usage]) -> Grade:
    """One question on its own, with one more try for an unusable reply; no score if it still fails."""
    error = ""
    for _ in range(2):
        try:
            grade, used = provider.grade_question(standard, reference, answer)
            usage.extend(used)
            return grade
        except (InvalidReply, TransientJobError) as exc:
            usage.extend([exc.usage] if getattr(exc, "usage", None) else [])
            error = str(exc).rstrip(".")
    return no_score(answer.number, answer.max_score, error)


def grade_script(
    provider: Provider,
    standard,
    reference: str,
    questions: list[QuestionResult],
    final_attempt: bool,
    *,
    hard_pages: bool = False,
    other_standard: str = "",
    missing: frozenset[int] | set[int] = frozenset(),
) -> ScriptGrades:
    """Grade one learner's matched answers (:func:`match_to_scheme`). Never invents a score: what cannot be graded is
    left for a person; an answer outside the scheme is never scored. ``missing``: the scheme questions no answer on
    the sheet was matched to; on a script whose pages were hard to read (or where nothing was read) they are "not
    found on the sheet", unscored, rather than "not answered"."""
    answers, grades, notes = [], {}, []
    flagged: dict[int, str] = {}
    matched_numbers = {
        q.detected_number or q.number for q in questions if q.number not in missing and not q.outside_scheme
    }
    nothing_read = bool(missing) and all(q.number in missing for q in questions)
    for q in questions:
        if q.outside_scheme:
            grades[q.number] = outside_scheme(q, second_answer=(q.detected_number or q.number) in matched_numbers)
            continue
        if q.number in missing and (hard_pages or nothing_read):  # a scheme question not found on the sheet
            grades[q.number] = not_found(q)
            continue
        cleaned, had_instruction = split_instructions(q.answer_text)
        if had_instruction:
            flagged[q.number] = "The answer contains text addressed to the marker; it was ignored when marking."
        if not cleaned or cleaned.lower() in {"[illegible]", "illegible"}:
            if hard_to_read(q.legibility) or cleaned:
                grades[q.number] = no_score(q.number, float(q.max_score), "the answer could not be read")
            else:
                grades[q.number] = not_answered(q, hard_pages=hard_pages)
            continue
        answers.append(_answer_to_grade(q, cleaned))
    usage: list[Usage] = []
    if answers:
        try:
            combined, used = provider.grade_script(standard, reference, answers)
            usage.extend(used)
            grades.update({g.number: g for g in combined})
        except (InvalidReply, TransientJobError) as exc:
            usage.extend([exc.usage] if getattr(exc, "usage", None) else [])
            if isinstance(exc, TransientJobError) and not final_attempt:
                raise
            notes.append(f"The combined grading reply could not be used ({exc}); grading question by question.")
            for answer in answers:
                grades[answer.number] = _grade_alone(provider, standard, reference, answer, usage)
    by_number = {q.number: q for q in questions}
    for number, grade in grades.items():
        reasons = [grade.review_reason] if grade.review_reason else []
        if number in flagged:
            reasons.append(flagged[number])
        if hard_to_read(by_number[number].legibility) and grade.score is not None:
            reasons.append("The handwriting was hard to read; check the transcription.")
        if other_standard and not by_number[number].outside_scheme:
            reasons.append(other_standard)
        grade.needs_review = bool(reasons)
        grade.review_reason = " ".join(reasons)[:300]
    return ScriptGrades(
        submission_id=questions[0].submission_id if questions else None, grades=grades, usage=usage, notes=notes
    )


def _scheme_for(job) -> MarkScheme:
    scheme_id = job.input.get("mark_scheme_id")
    if scheme_id is None:  # a job queued before mark schemes: the standard's published scheme
        found = published_for_standard(int(job.input.get("standard_id") or 0))
        scheme_id = found.pk if found else None
    scheme = MarkScheme.objects.prefetch_related("questions__points").filter(pk=scheme_id).first()
    if scheme is None:
        raise PermanentJobError("The mark scheme chosen for these scripts no longer exists.", code="VALIDATION_ERROR")
    return scheme


def _script_context(submission: Submission, scheme: MarkScheme) -> dict:
    pages = list(submission.pages.all())
    hard_pages = any(hard_to_read(p.legibility) for p in pages)
    other = ""
    if submission.detected_standard and scheme.standard and submission.detected_standard != scheme.standard:
        other = (
            f"The sheet shows Standard {submission.detected_standard} but was marked with the Standard "
            f"{scheme.standard} mark scheme; check it is the right one."
        )
    return {"hard_pages": hard_pages, "other_standard": other}


def run_grading_job(context: JobContext) -> dict:
    job = context.job
    scheme = _scheme_for(job)
    found = reference_for(scheme)
    if found is None:
        raise PermanentJobError(f"There is no reference material for {scheme.subject_label}.", code="VALIDATION_ERROR")
    standard, reference = found
    ids = job.input.get("submission_ids") or []
    submissions = list(Submission.objects.filter(pk__in=ids).prefetch_related("questions", "pages"))
    if len(submissions) != len(ids):
        raise PermanentJobError("Some of the scripts to grade no longer exist.", code="NOT_FOUND")
    provider = provider_for(job.organization)
    final_attempt = job.retry_count >= job.max_retries
    context.progress(
        5,
        f"Grading {len(submissions)} script(s) with “{scheme.title}” (version {scheme.version}) for "
        f"{standard.label.removeprefix('Care Certificate ')}",
    )
    # Matched in this thread: the scheme's questions and points are prefetched, so the grading threads read them
    # from memory and never query (a thread's own connection would not be in the organization's schema).
    matched = {s.pk: match_to_scheme(s, scheme) for s in submissions}
    contexts = {
        s.pk: _script_context(s, scheme) | {"missing": {r.number for r in matched[s.pk] if r.pk is None}}
        for s in submissions
    }
    graded: dict[object, ScriptGrades] = {}
    report = context.callback(5, 95, len(submissions), "Graded {done} of {total} script(s)")

    def done(submission: Submission, result: ScriptGrades, count: int) -> None:
        graded[submission.pk] = result
        record_usage(context, result.usage)
        for note in result.notes:
            context.log(note, "warning")
        report(count)

    run_bounded(
        context,
        submissions,
        lambda s: grade_script(provider, standard, reference, matched[s.pk], final_attempt, **contexts[s.pk]),
        settings.GRADING_SCRIPT_CONCURRENCY,
        done,
    )

    grader = job.user.email if job.user else ""
    with transaction.atomic():
        summaries = [
            save_grades(s, matched[s.pk], graded[s.pk], scheme, provider, grader, GRADING_PROMPT_VERSION)
            for s in submissions
        ]
        result = {
            "submission_ids": [str(s.pk) for s in submissions],
            "submissions": summaries,
            "standard_id": scheme.standard,
            "subject_id": scheme.subject_id,
            "mark_scheme": {"id": scheme.pk, "title": scheme.title, "version": scheme.version},
            "provider": provider.name,
            "model": provider.model,
            "prompt_version": GRADING_PROMPT_VERSION,
        }
        context.complete(result)
        record_graded(job.organization_id, len(submissions))  # the usage ledger, with the completion or not at all
        queue_grading_complete_email(job, result)  # with the completion too: a watcher never sees "done" before it
        # The submission.graded webhooks listen (grading.events), after the commit.
        send_on_commit(
            submissions_graded,
            Submission,
            organization_id=job.organization_id,
            job_id=job.pk,
            user_id=job.user_id,
            result=result,
        )
    flagged = sum(s["needs_review"] for s in summaries)
    context.log(f"Graded {len(submissions)} script(s); {flagged} question(s) need a person's review.")
    return result
