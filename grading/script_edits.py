"""An assessor's corrections to how pages were grouped into scripts, before grading: split a script, move pages to
another script, or merge two. One action does all three: :func:`move_pages` (to a new script = split; every page
to another script = merge, and the emptied script is removed).

Answers travel with their page. An answer to a question the receiving script already has is kept apart (its own
row, flagged) and never joined; an answer kept apart that no longer clashes gets its printed number back. Page
images are copied into the receiving script's folder, so they live as long as it does.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction

from grading.errors import Conflict, Invalid
from grading.grouping import second_answer_reason
from grading.models import Page, QuestionResult, Student, Submission, SubmissionStatus
from grading.storage import keep_page_image

EDITABLE = {SubmissionStatus.EXTRACTED, SubmissionStatus.GRADING_FAILED}


def _editable(submission: Submission) -> None:
    if submission.status not in EDITABLE or submission.graded_at is not None:
        raise Conflict(
            f"The script “{submission}” has been graded or is being graded; pages can be moved only before grading.",
            code="SCRIPT_ALREADY_GRADED",
            details={"status": submission.status},
        )


def _renumber_pages(submission: Submission) -> None:
    """Pages 1..n in their order; each answer follows its page."""
    for position, page in enumerate(submission.pages.order_by("number"), start=1):
        if page.number != position:
            submission.questions.filter(page_number=page.number).update(page_number=position)
            Page.objects.filter(pk=page.pk).update(number=position)


def _take_in(target: Submission, rows: list[QuestionResult], page_map: dict[int, int]) -> None:
    """Give the moving answers to ``target``: printed numbers where free, else a number of their own, flagged."""
    taken = set(target.questions.values_list("number", flat=True))
    printed_of = {row.pk: row.detected_number or row.number for row in rows}
    spare = max(taken | set(printed_of.values()) | {0}) + 1
    for row in sorted(rows, key=lambda r: (r.detected_number is not None, r.number)):
        printed = printed_of[row.pk]
        clash_reason = second_answer_reason(printed)
        if printed not in taken:
            row.number, row.detected_number = printed, None
            if row.review_reason == clash_reason and row.final_score is None:
                row.needs_review, row.review_reason = False, ""
        else:
            row.number, row.detected_number = spare, printed
            row.needs_review, row.review_reason = True, clash_reason
            spare += 1
        taken.add(row.number)
        row.submission = target
        row.page_number = page_map.get(row.page_number, row.page_number)
        row.save(
            update_fields=["submission", "number", "detected_number", "page_number", "needs_review", "review_reason"]
        )


def _refresh_name(submission: Submission, before: str) -> None:
    """The script's name is the first name read on its pages; a learner matched from the old name follows it."""
    names = [n for n in submission.pages.order_by("number").values_list("student_name", flat=True) if n]
    submission.detected_student_name = names[0] if names else ""
    name = submission.detected_student_name
    matched_from_sheet = submission.student is None or submission.student.full_name.lower() == before.lower()
    if (matched_from_sheet and name.lower() != before.lower()) or (submission.student is None and name):
        submission.student = Student.named(name)


def move_pages(source: Submission, page_numbers: list[int], target: Submission | None) -> dict:
    """Move these pages of ``source`` (in their order) to the end of ``target``, or to a new script when ``target``
    is None. Returns ``{"source": id or None when it was emptied and removed, "target": id}``."""
    numbers = sorted(set(page_numbers))
    if not numbers:
        raise Invalid("Name at least one page to move.", code="VALIDATION_ERROR", details={"pages": ["Empty."]})
    if target is not None and target.pk == source.pk:
        raise Invalid(
            "The pages are already in that script.", code="VALIDATION_ERROR", details={"target": ["Same script."]}
        )
    with transaction.atomic():
        ids = sorted(str(pk) for pk in {source.pk, getattr(target, "pk", source.pk)})
        locked = {str(s.pk): s for s in Submission.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        source = locked[str(source.pk)]
        target = locked[str(target.pk)] if target is not None else None
        _editable(source)
        if target is not None:
            _editable(target)
        pages = list(source.pages.filter(number__in=numbers).order_by("number"))
        missing = sorted(set(numbers) - {p.number for p in pages})
        if missing:
            raise Invalid(
                f"The script has no page {', '.join(map(str, missing))}; it has {source.page_count} page(s).",
                code="VALIDATION_ERROR",
                details={"pages": [f"No page {n}." for n in missing]},
            )
        emptied = len(pages) == source.pages.count()
        if target is None and emptied:
            raise Invalid(
                "Those are all the script's pages; to split it, leave at least one page behind.",
                code="VALIDATION_ERROR",
                details={"pages": ["All pages."]},
            )
        if target is None:
            target = Submission.objects.create(
                standard=source.standard,
                detected_standard=source.detected_standard,
                status=SubmissionStatus.EXTRACTED,
                upload_job_id=source.upload_job_id,
                session_id=source.session_id,
                extraction_source=source.extraction_source,
                uploaded_by=source.uploaded_by,
            )
        source_name, target_name = source.detected_student_name, target.detected_student_name
        schema = _schema()
        old_files, page_map = [], {}
        end = target.pages.count()
        for offset, page in enumerate(pages, start=1):
            page_map[page.number] = end + offset
            if page.file:
                old_files.append(page.file)
                page.file = keep_page_image(schema, target.pk, end + offset, page.file)
        rows = list(source.questions.filter(page_number__in=list(page_map)))
        if emptied:  # answers not tied to a page go with the last of them
            rows += list(source.questions.exclude(page_number__in=list(page_map)))
        for page in pages:
            page.submission, page.number = target, page_map[page.number]
            page.save(update_fields=["submission", "number", "file"])
        _take_in(target, rows, page_map)
        _refresh_name(target, target_name)
        target.page_count = target.pages.count()
        target.detected_standard = target.detected_standard or source.detected_standard
        target.save()
        if emptied:
            source.delete()
        else:
            _renumber_pages(source)
            _refresh_name(source, source_name)
            source.page_count = source.pages.count()
            source.save()
        transaction.on_commit(lambda: [default_storage.delete(path) for path in old_files], robust=True)
    return {"source": None if emptied else str(source.pk), "target": str(target.pk)}


def _schema() -> str:
    from django.db import connection

    return connection.schema_name
