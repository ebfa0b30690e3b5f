"""The extraction job: stored uploads → pages → one structured transcription per page (concurrently, within a
bound) → scripts (one learner's pages) → Submission, Page and QuestionResult rows, written in one transaction with
the job's completion. What a sheet says about marks is kept only as ``detected_max_score``: marks come from the
mark scheme when the script is graded (:mod:`grading.marking`).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import prefetch_related_objects

from grading.grouping import Script, group_into_scripts, normal_name, second_answer_reason
from grading.models import Page, QuestionResult, Student, Submission, SubmissionStatus
from grading.pages import PageSource, build_pages
from grading.pipeline import provider_for, record_usage, run_bounded
from grading.providers.base import Provider
from grading.providers.schemas import EXTRACTION_PROMPT_VERSION, InvalidReply, PageResult
from grading.services import grade_when_read
from grading.storage import job_folder, keep_page_image
from grading.text_sheets import parse_text_page
from jobs.errors import PermanentJobError, TransientJobError
from jobs.running import JobContext
from markschemes.models import MarkScheme
from markschemes.services import published_for_standard


def _scheme_questions(job_input: dict) -> dict[int, str]:
    """The questions (number → text) of the mark scheme the upload will be marked with, when known before reading:
    they tell the reader which questions to look for and the grouping which question comes next."""
    scheme = None
    if job_input.get("mark_scheme_id"):
        scheme = MarkScheme.objects.filter(pk=job_input["mark_scheme_id"]).first()
    elif job_input.get("standard_id"):
        scheme = published_for_standard(int(job_input["standard_id"]))
    return dict(scheme.questions.values_list("number", "text")) if scheme else {}


def _extract(
    provider: Provider, page: PageSource, final_attempt: bool, questions: dict[int, str] | None = None
) -> PageResult:
    if page.text is not None:
        return PageResult(extraction=parse_text_page(page.text), source="pdf_text")
    if page.error:  # the file sandbox could not open this page
        return PageResult(extraction=None, source="pdf_text", error=page.error)
    last_error = ""
    for _ in range(2):  # one more try for a reply we could not use
        try:
            return provider.extract_page(page, questions=questions)
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


def _save_script(script: Script, job, standard_id: int | None) -> Submission:
    first_source = script.pages[0][1].source
    submission = Submission.objects.create(
        student=Student.named(script.student_name),
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
    read = [
        (position, q)
        for position, (_, result) in enumerate(script.pages, start=1)
        for q in (result.extraction.questions if result.extraction else [])
    ]
    spare = iter(range(max((q.number for _, q in read), default=0) + 1, 10_000))
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
            student_name=normal_name(extraction.student_name if extraction else ""),
            text=result.error or "\n\n".join(f"{q.number}. {q.question}\n{q.answer}" for q in extraction.questions),
        )
    for position, q in read:
        row = QuestionResult(
            submission=submission,
            number=q.number,
            question_text=q.question,
            answer_text=q.answer,
            page_number=position,
            legibility=q.legibility,
            max_score=Decimal(settings.DEFAULT_QUESTION_MARKS),  # the mark scheme's, once graded
            detected_max_score=q.max_score,
        )
        if q.number in questions:  # a second answer to the same question: kept apart, never joined
            row.number, row.detected_number = next(spare), q.number
            row.needs_review, row.review_reason = True, second_answer_reason(q.number)
        questions[row.number] = row
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
    scheme_questions = _scheme_questions(job.input)

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

    def work(page: PageSource) -> PageResult:
        return _extract(provider, page, final_attempt, scheme_questions)

    run_bounded(context, pages, work, settings.EXTRACTION_PAGE_CONCURRENCY, done)

    scripts = group_into_scripts([(page, results[page.number]) for page in pages], sorted(scheme_questions))
    context.progress(95, "Saving the transcription")
    with transaction.atomic():
        submissions = [_save_script(script, job, standard_id) for script in scripts]
        # One read of their answers for the counts and flags below and grade_when_read's (each asked its own).
        prefetch_related_objects(submissions, "questions")
        result = {
            "submission_ids": [str(s.pk) for s in submissions],
            "submissions": [
                {
                    "id": str(s.pk),
                    "pages": s.page_count,
                    "questions": s.questions.count(),
                    "standard_id": s.standard,
                    "detected_standard": s.detected_standard,
                    "flags": s.flags,
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
