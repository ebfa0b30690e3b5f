"""The grading pipeline's two jobs.

Extraction: stored uploads → pages → one structured transcription per page (concurrently, within a bound) → scripts
(one learner's pages) → Submission, Page and QuestionResult rows, written in one transaction with the job's completion.

Grading: each script's answers → one combined AI call against the standard's reference material → validated, else
question by question → a question that still cannot be graded gets no score and goes to a person.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from grading.models import Page, QuestionResult, Student, Submission, SubmissionStatus
from grading.pages import PageSource, build_pages
from grading.providers.base import Provider, get_provider, split_instructions
from grading.providers.schemas import (
    EXTRACTION_PROMPT_VERSION,
    GRADING_PROMPT_VERSION,
    AnswerToGrade,
    Grade,
    InvalidReply,
    PageResult,
    Usage,
)
from grading.services import grade_when_read
from grading.standards import get_standard, reference_text
from grading.storage import job_folder, keep_page_image
from grading.text_sheets import parse_text_page
from integrations import services as webhooks
from jobs.errors import JobCancelled, PermanentJobError, TransientJobError
from jobs.services import JobContext
from organizations.usage import record_graded

logger = logging.getLogger(__name__)

LOW_LEGIBILITY = 0.4


def hard_to_read(legibility: float | None) -> bool:
    """Whether the reader was unsure of an answer's words. No value (a typed sheet's text layer) is read for sure; 0.0
    is not "no value": the reader could not read it at all."""
    return legibility is not None and legibility < LOW_LEGIBILITY


def provider_for(organization) -> Provider:
    return get_provider(organization.ai_provider or settings.QUIZMARKER_AI_PROVIDER)


def record_usage(context: JobContext, usages: list[Usage]) -> None:
    """Log provider calls at once (they cost money whether or not the job finishes)."""
    from organizations.models import ProviderCall
    from organizations.usage import estimate_cost

    job = context.job
    ProviderCall.objects.bulk_create(
        [
            ProviderCall(
                organization_id=job.organization_id,
                user_id=job.user_id,
                job_id=job.pk,
                provider=u.provider,
                model=u.model,
                purpose=u.purpose,
                prompt_tokens=u.prompt_tokens,
                cached_tokens=u.cached_tokens,
                completion_tokens=u.completion_tokens,
                latency_ms=u.latency_ms,
                succeeded=u.succeeded,
                error=u.error[:200],
                cost_usd=estimate_cost(u.model, u.prompt_tokens, u.cached_tokens, u.completion_tokens),
            )
            for u in usages
        ]
    )


def run_bounded(context: JobContext, items: list, work, limit: int, on_done) -> None:
    """Run ``work(item)`` for every item on at most ``limit`` threads; ``on_done(item, result, done_count)`` runs in
    this thread (which owns the database connection and checks for cancellation). Exceptions stop everything."""
    pending = list(items)
    with ThreadPoolExecutor(max_workers=max(1, limit), thread_name_prefix="qm-ai") as pool:
        running = {}
        done_count = 0
        try:
            while pending or running:
                while pending and len(running) < limit:
                    item = pending.pop(0)
                    running[pool.submit(work, item)] = item
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    done_count += 1
                    on_done(item, future.result(), done_count)
        except BaseException:
            for future in running:
                future.cancel()
            raise


# --- Extraction ---------------------------------------------------------------------------------


def _extract(provider: Provider, page: PageSource, final_attempt: bool) -> PageResult:
    if page.text is not None:
        return PageResult(extraction=parse_text_page(page.text), source="pdf_text")
    if page.error:  # the file sandbox could not open this page
        return PageResult(extraction=None, source="pdf_text", error=page.error)
    last_error = ""
    for _ in range(2):  # one more try for a reply we could not use
        try:
            return provider.extract_page(page)
        except InvalidReply as exc:
            last_error = str(exc)
        except TransientJobError as exc:
            if not final_attempt:
                raise
            last_error = exc.message
    return PageResult(
        extraction=None,
        source="vision" if provider.name == "openai" else "ocr",
        error=f"This page could not be read automatically ({last_error}); transcribe it by hand.",
    )


@dataclass
class Script:
    pages: list[tuple[PageSource, PageResult]] = field(default_factory=list)
    student_name: str = ""
    standard: int | None = None
    last_question: int = 0


def _normal(name: str | None) -> str:
    return " ".join((name or "").split()).strip(" .:_-").title()


def group_into_scripts(pages: list[tuple[PageSource, PageResult]], files: list[dict]) -> list[Script]:
    """One script per learner: a PDF is one script; consecutive photos belong together until the name changes, or
    the question numbers start again on a page with no name."""
    scripts: list[Script] = []
    for source, result in pages:
        extraction = result.extraction
        name = _normal(extraction.student_name) if extraction else ""
        numbers = [q.number for q in extraction.questions] if extraction else []
        current = scripts[-1] if scripts else None
        is_pdf = files[source.file_index]["content_type"] == "application/pdf"
        first_page_of_file = not any(p.file_index == source.file_index for p, _ in (current.pages if current else []))
        new_script = (
            current is None
            or (is_pdf and first_page_of_file)
            or (
                not is_pdf
                and first_page_of_file
                and files[current.pages[-1][0].file_index]["content_type"] == "application/pdf"
            )
            or (name and current.student_name and name != current.student_name)
            or (not name and numbers and current.last_question and min(numbers) <= 1 < current.last_question)
        )
        if new_script:
            current = Script()
            scripts.append(current)
        current.pages.append((source, result))
        if name and not current.student_name:
            current.student_name = name
        if extraction and extraction.standard and not current.standard:
            current.standard = extraction.standard
        if numbers:
            current.last_question = max(current.last_question, max(numbers))
    return scripts


def _match_student(name: str) -> Student | None:
    if not name:
        return None
    student = Student.objects.filter(full_name__iexact=name).order_by("created_at").first()
    return student or Student.objects.create(full_name=name)


def _save_script(script: Script, job, standard_id: int | None) -> Submission:
    first_source = script.pages[0][1].source
    submission = Submission.objects.create(
        student=_match_student(script.student_name),
        detected_student_name=script.student_name,
        standard=standard_id or script.standard,
        detected_standard=script.standard,
        status=SubmissionStatus.EXTRACTED,
        upload_job_id=job.pk,
        session_id=job.session_id,
        page_count=len(script.pages),
        extraction_source=first_source,
        uploaded_by=job.user.email if job.user else "",
    )
    questions: dict[int, QuestionResult] = {}
    for position, (source, result) in enumerate(script.pages, start=1):
        extraction = result.extraction
        legibility = min((q.legibility for q in extraction.questions), default=None) if extraction else 0.0
        Page.objects.create(
            submission=submission,
            number=position,
            file=keep_page_image(job.organization.schema_name, submission.pk, position, source.path)
            if source.path
            else "",
            legibility=legibility,
            text=result.error or "\n\n".join(f"{q.number}. {q.question}\n{q.answer}" for q in extraction.questions),
        )
        for q in extraction.questions if extraction else []:
            if q.number in questions:  # an answer that continues on the next page
                existing = questions[q.number]
                existing.answer_text = f"{existing.answer_text} {q.answer}".strip()
                existing.legibility = min(existing.legibility, q.legibility)
                continue
            questions[q.number] = QuestionResult(
                submission=submission,
                number=q.number,
                question_text=q.question,
                answer_text=q.answer,
                page_number=position,
                legibility=q.legibility,
                max_score=Decimal(q.max_score or settings.DEFAULT_QUESTION_MARKS),
            )
    QuestionResult.objects.bulk_create(questions.values())
    return submission


def run_extraction_job(context: JobContext) -> dict:
    job = context.job
    files = job.input.get("files") or []
    if not files:
        raise PermanentJobError("The upload has no files to read.", code="VALIDATION_ERROR")
    standard_id = job.input.get("standard_id")
    provider = provider_for(job.organization)
    final_attempt = job.retry_count >= job.max_retries

    context.progress(2, "Preparing the pages")
    pages = build_pages(files, job_folder(job.organization.schema_name, job.pk))
    context.log(f"{len(pages)} page(s) to read with the {provider.name} provider.")
    results: dict[int, PageResult] = {}
    report = context.callback(5, 90, len(pages), "Read page {done} of {total}")

    def done(page: PageSource, result: PageResult, count: int) -> None:
        results[page.number] = result
        record_usage(context, result.usage)
        if result.error:
            context.log(f"Page {page.number}: {result.error}", "warning")
        report(count)

    run_bounded(
        context, pages, lambda page: _extract(provider, page, final_attempt), settings.EXTRACTION_PAGE_CONCURRENCY, done
    )

    scripts = group_into_scripts([(page, results[page.number]) for page in pages], files)
    context.progress(95, "Saving the transcription")
    with transaction.atomic():
        submissions = [_save_script(script, job, standard_id) for script in scripts]
        result = {
            "submission_ids": [str(s.pk) for s in submissions],
            "submissions": [
                {
                    "id": str(s.pk),
                    "pages": s.page_count,
                    "questions": s.questions.count(),
                    "standard_id": s.standard,
                    "detected_standard": s.detected_standard,
                }
                for s in submissions
            ],
            "pages": len(pages),
            "unreadable_pages": sum(1 for r in results.values() if r.extraction is None),
            "provider": provider.name,
            "prompt_version": EXTRACTION_PROMPT_VERSION,
        }
        if job.input.get("grade"):
            result |= grade_when_read(job, submissions)
        context.complete(result)
    context.log(f"Read {len(pages)} page(s) into {len(submissions)} script(s).")
    if job.input.get("grade"):
        if result["grading_job_id"]:
            context.log("Grading started as the upload asked.")
        else:
            context.log(f"Grading could not start: {result['grading_error']}", "warning")
    return result


# --- Grading ------------------------------------------------------------------------------------


@dataclass
class ScriptGrades:
    submission_id: object
    grades: dict[int, Grade]
    usage: list[Usage]
    notes: list[str]


def _no_score(answer: AnswerToGrade, why: str) -> Grade:
    return Grade(
        number=answer.number,
        score=None,
        max_score=answer.max_score,
        confidence=0.0,
        feedback="",
        needs_review=True,
        review_reason=f"The AI could not grade this answer ({why}); please mark it.",
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
    return _no_score(answer, error)


def grade_script(
    provider: Provider, standard, reference: str, questions: list[QuestionResult], final_attempt: bool
) -> ScriptGrades:
    """Grade one learner's answers. Never invents a score: what cannot be graded is left for a person."""
    answers, prefilled, notes = [], {}, []
    flagged: dict[int, str] = {}
    for q in questions:
        cleaned, had_instruction = split_instructions(q.answer_text)
        if had_instruction:
            flagged[q.number] = "The answer contains text addressed to the marker; it was ignored when marking."
        answer = AnswerToGrade(number=q.number, question=q.question_text, answer=cleaned, max_score=float(q.max_score))
        if not cleaned or cleaned.lower() in {"[illegible]", "illegible"}:
            if hard_to_read(q.legibility) or cleaned:
                prefilled[q.number] = _no_score(answer, "the answer could not be read")
            else:
                prefilled[q.number] = Grade(
                    number=q.number,
                    score=0.0,
                    max_score=answer.max_score,
                    confidence=1.0,
                    feedback="No answer was written.",
                )
            continue
        answers.append(answer)
    grades: dict[int, Grade] = dict(prefilled)
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
        grade.needs_review = bool(reasons)
        grade.review_reason = " ".join(reasons)[:300]
    return ScriptGrades(
        submission_id=questions[0].submission_id if questions else None, grades=grades, usage=usage, notes=notes
    )


def run_grading_job(context: JobContext) -> dict:
    job = context.job
    standard = get_standard(int(job.input.get("standard_id") or 0))
    if standard is None:
        raise PermanentJobError(
            f"There is no reference material for standard {job.input.get('standard_id')}.", code="VALIDATION_ERROR"
        )
    reference = reference_text(standard)
    ids = job.input.get("submission_ids") or []
    submissions = list(Submission.objects.filter(pk__in=ids).prefetch_related("questions"))
    if len(submissions) != len(ids):
        raise PermanentJobError("Some of the scripts to grade no longer exist.", code="NOT_FOUND")
    provider = provider_for(job.organization)
    final_attempt = job.retry_count >= job.max_retries
    context.progress(5, f"Grading {len(submissions)} script(s) against Standard {standard.id}: {standard.title}")
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
        lambda s: grade_script(provider, standard, reference, list(s.questions.all()), final_attempt),
        settings.GRADING_SCRIPT_CONCURRENCY,
        done,
    )

    grader = job.user.email if job.user else ""
    with transaction.atomic():
        summaries = []
        for submission in submissions:
            summaries.append(_save_grades(submission, graded[submission.pk], standard.id, provider, grader))
        result = {
            "submission_ids": [str(s.pk) for s in submissions],
            "submissions": summaries,
            "standard_id": standard.id,
            "provider": provider.name,
            "model": provider.model,
            "prompt_version": GRADING_PROMPT_VERSION,
        }
        context.complete(result)
        record_graded(job.organization_id, len(submissions))  # the usage ledger, with the completion or not at all
        _notify(job, result)
        transaction.on_commit(  # submission.graded webhooks; never blocks or fails the job
            lambda: webhooks.submissions_graded(job.organization_id, job.pk, result), robust=True
        )
    flagged = sum(s["needs_review"] for s in summaries)
    context.log(f"Graded {len(submissions)} script(s); {flagged} question(s) need a person's review.")
    return result


def _save_grades(
    submission: Submission, result: ScriptGrades, standard_id: int, provider: Provider, grader: str
) -> dict:
    questions = {q.number: q for q in submission.questions.all()}
    for number, grade in result.grades.items():
        q = questions[number]
        q.ai_score = Decimal(str(grade.score)) if grade.score is not None else None
        q.ai_feedback = grade.feedback
        q.confidence = grade.confidence
        q.needs_review = grade.needs_review
        q.review_reason = grade.review_reason
    QuestionResult.objects.bulk_update(
        questions.values(), ["ai_score", "ai_feedback", "confidence", "needs_review", "review_reason"]
    )
    submission.standard = standard_id
    submission.provider = provider.name
    submission.model = provider.model
    submission.prompt_version = GRADING_PROMPT_VERSION
    submission.prompt_tokens = sum(u.prompt_tokens for u in result.usage)
    submission.cached_tokens = sum(u.cached_tokens for u in result.usage)
    submission.completion_tokens = sum(u.completion_tokens for u in result.usage)
    submission.graded_at = timezone.now()
    submission.graded_by = grader
    needs_review = sum(1 for q in questions.values() if q.needs_review)
    submission.status = SubmissionStatus.NEEDS_REVIEW if needs_review else SubmissionStatus.GRADED
    submission.recompute_totals()
    submission.save()
    return {
        "id": str(submission.pk),
        "total_score": str(submission.total_score) if submission.total_score is not None else None,
        "max_score": str(submission.max_score) if submission.max_score is not None else None,
        "percentage": str(submission.percentage) if submission.percentage is not None else None,
        "needs_review": needs_review,
    }


def _notify(job, result: dict) -> None:
    """Queue the 'grading complete' email (low priority) in the same transaction: sent once, only if graded."""
    from jobs.models import JobType
    from jobs.services import start_job

    if not job.organization.notify_on_grading_complete or job.user is None or not job.user.email:
        return
    start_job(
        organization=job.organization,
        user=job.user,
        job_type=JobType.EMAIL,
        session=job.session,
        input={"kind": "grading_complete", "grading_job_id": str(job.pk), "submission_ids": result["submission_ids"]},
        check_limits=False,
    )


__all__ = ["run_extraction_job", "run_grading_job", "JobCancelled"]
