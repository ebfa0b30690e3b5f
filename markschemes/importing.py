"""Importing a blank quiz or a mark-scheme document (PDF or photo) into a DRAFT mark scheme that a person checks,
edits and publishes. Nothing is ever published here.

The upload is checked and stored like answer sheets (``grading.uploads``, ``grading.storage``); a background job
(``scheme_import``, run by the jobs engine with progress) reads it page by page (``grading.pages``: PDFs only in
the file sandbox):

* a typed page (a PDF with a text layer) is read by layout rules (:mod:`markschemes.document_text`), no AI call;
* a photo or scan goes to the organization's provider: OpenAI with Structured Outputs (``SchemeDocument``), or the
  offline provider's OCR followed by the same layout rules.

What was read becomes a draft through :func:`markschemes.services.create_draft`, so it obeys every rule a written
scheme does. Marks the document does not print are filled so the draft is valid, and said so in the job's log: a
question with no printed marks is worth its points' marks (1 when it has none); a question with no marking points
(a blank quiz) gets one point, "Replace with the marking points", worth its maximum. A document in which no question
is found ends the job with a sentence saying so, and no draft.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from grading.pages import build_pages
from grading.pipeline import provider_for, record_usage
from grading.providers.schemas import SCHEME_IMPORT_PROMPT_VERSION, DocumentQuestion, InvalidReply, SchemeDocument
from grading.storage import delete_folder, job_folder
from grading.uploads import CheckedFile, store_files
from jobs.errors import PermanentJobError
from jobs.models import BackgroundJob, JobType
from jobs.running import JobContext
from jobs.starting import start_job
from markschemes.document_text import read_document
from markschemes.models import MAX_QUESTION_MARKS, SchemeOrigin
from markschemes.services import SchemeError, create_draft, subject_of
from quizmarker.broker import require_broker

PLACEHOLDER_POINT = "Replace with the marking points (the document printed none)"
NO_QUESTIONS = (
    "No numbered questions were found in the document, so no draft was made. Upload a quiz or mark scheme whose "
    "questions are numbered (1., 2., …), or write the scheme by hand."
)


def start_import(
    *, organization, user, file: CheckedFile, standard=None, subject=None, title: str = "", enqueue: bool = True
) -> BackgroundJob:
    """Check where the draft will belong, store the file and start the import job."""
    subject_of({"standard": standard, "subject": subject})  # SchemeError naming the field, before anything is stored
    if title and len(title.strip()) > 200:
        raise SchemeError("title", "The title is longer than 200 characters.")
    if enqueue:
        require_broker()
    job_id = uuid.uuid4()
    stored = store_files(organization.schema_name, job_id, [file])
    try:
        return start_job(
            organization=organization,
            user=user,
            job_type=JobType.SCHEME_IMPORT,
            input={"files": stored, "standard": standard, "subject": subject, "title": (title or "").strip()},
            job_id=job_id,
            step="Waiting for a worker to read the document",
            enqueue=enqueue,
        )
    except Exception:
        delete_folder(job_folder(organization.schema_name, job_id))
        raise


def _half(value: float | None) -> Decimal | None:
    """Marks as the scheme takes them (whole or half, more than 0, at most 100), or None if the value cannot be."""
    if value is None:
        return None
    marks = (Decimal(str(value)) * 2).quantize(Decimal("1"), rounding=ROUND_HALF_UP) / 2
    return marks if 0 < marks <= MAX_QUESTION_MARKS else None


def _question_data(q: DocumentQuestion, notes: list[str]) -> dict:
    points = [
        {"statement": p.statement.strip()[:300], "marks": _half(p.marks) or Decimal(1)}
        for p in q.points
        if p.statement.strip()
    ][:30]
    reachable = sum((p["marks"] for p in points), Decimal(0))
    maximum = _half(q.max_marks)
    if maximum is None:
        maximum = min(reachable, MAX_QUESTION_MARKS) if points else Decimal(1)
        notes.append(f"Question {q.number}: no marks printed; its maximum is set to {maximum.normalize():f}.")
    if not points:
        points = [{"statement": PLACEHOLDER_POINT, "marks": maximum}]
        notes.append(f"Question {q.number}: no marking points printed; write them before publishing.")
    elif reachable < maximum:
        points.append({"statement": PLACEHOLDER_POINT, "marks": maximum - reachable})
        notes.append(f"Question {q.number}: its points add up to less than its marks; a point to replace was added.")
    return {
        "number": q.number,
        "text": q.text.strip()[:2000],
        "max_marks": maximum,
        "model_answer": (q.model_answer or "").strip()[:5000],
        "points": points,
    }


def _merge(documents: list[SchemeDocument]) -> tuple[str | None, list[DocumentQuestion]]:
    """All pages' questions by number (a number read twice keeps its first reading; points continued on the next
    page under the same number are added), and the first title."""
    title = next((d.title for d in documents if d.title), None)
    by_number: dict[int, DocumentQuestion] = {}
    for document in documents:
        for question in document.questions:
            if not question.text.strip():
                continue
            if question.number in by_number:
                by_number[question.number].points.extend(question.points)
            else:
                by_number[question.number] = question.model_copy(deep=True)
    return title, [by_number[n] for n in sorted(by_number)][:100]


def run_import_job(context: JobContext) -> dict:
    job = context.job
    files = job.input.get("files") or []
    provider = provider_for(job.organization)
    context.progress(5, "Preparing the pages")
    pages = build_pages(files, job_folder(job.organization.schema_name, job.pk))
    report = context.callback(10, 90, len(pages), "Read page {done} of {total}")
    documents, sources = [], []
    for done, page in enumerate(pages, start=1):
        if page.error:
            context.log(f"Page {page.number}: {page.error}", "warning")
        elif page.text is not None:
            documents.append(read_document(page.text))
            sources.append("pdf_text")
        else:
            try:
                document, usage = provider.read_scheme_document(page)
            except InvalidReply as exc:
                record_usage(context, [exc.usage] if getattr(exc, "usage", None) else [])
                context.log(f"Page {page.number} could not be read ({exc}).", "warning")
            else:
                record_usage(context, usage)
                documents.append(document)
                sources.append("vision" if provider.name == "openai" else "ocr")
        report(done)
    title, questions = _merge(documents)
    if not questions:
        raise PermanentJobError(NO_QUESTIONS, code="NO_QUESTIONS")
    notes: list[str] = []
    data = {
        "standard": job.input.get("standard"),
        "subject": job.input.get("subject"),
        "title": job.input.get("title") or (title or "Imported mark scheme")[:200],
        "questions": [_question_data(q, notes) for q in questions],
    }
    context.progress(95, "Saving the draft")
    with transaction.atomic():
        try:
            draft = create_draft(data, created_by=job.user.email if job.user else "", origin=SchemeOrigin.IMPORTED)
        except SchemeError as exc:
            raise PermanentJobError(f"The document could not become a draft: {exc.message}", code="VALIDATION_ERROR")
        result = {
            "mark_scheme_id": draft.pk,
            "state": draft.state,
            "title": draft.title,
            "questions": len(data["questions"]),
            "total_marks": str(sum((q["max_marks"] for q in data["questions"]), Decimal(0))),
            "source": sorted(set(sources)),
            "notes": notes,
            "prompt_version": SCHEME_IMPORT_PROMPT_VERSION,
        }
        context.complete(result)
    for note in notes:
        context.log(note)
    context.log(f"Read {len(data['questions'])} question(s) into draft mark scheme {draft.pk}; check and publish it.")
    return result
