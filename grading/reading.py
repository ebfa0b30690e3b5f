"""The extraction job: stored uploads → pages → one structured transcription per page (concurrently, within a
bound) → scripts (one learner's pages) → Submission, Page and QuestionResult rows, written in one transaction with
the job's completion. What a sheet says about marks is kept only as ``detected_max_score``: marks come from the
mark scheme when the script is graded (:mod:`grading.marking`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from grading.models import Page, QuestionResult, Student, Submission, SubmissionStatus
from grading.pages import PageSource, build_pages
from grading.pipeline import provider_for, record_usage, run_bounded
from grading.providers.base import Provider
from grading.providers.schemas import EXTRACTION_PROMPT_VERSION, InvalidReply, PageResult
from grading.services import grade_when_read
from grading.storage import job_folder, keep_page_image
from grading.text_sheets import parse_text_page
from jobs.errors import PermanentJobError, TransientJobError
from jobs.services import JobContext


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
                max_score=Decimal(settings.DEFAULT_QUESTION_MARKS),  # the mark scheme's, once graded
                detected_max_score=q.max_score,
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
