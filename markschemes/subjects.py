"""An organization's own subjects: a name and a reference PDF, stored and read per organization.

The PDF comes from a person, so it is treated like an answer sheet: checked (type from the content, size, pages,
scripts, inflation caps) and read only in the file sandbox's child processes (``grading.sandbox``), never in the
web process or a worker. Its text is read once, when it is uploaded, and kept on the subject; workers take it from
the shared cache by the file's SHA-256, as they take the shipped library's (``grading.standards``), so a grading job
reads it from the database at most once per file.

A subject's reference material plays the part a standard's reference PDF plays in grading: :func:`reference_for`
gives either, for a scheme.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction

from grading.file_tasks import FileProblem
from grading.sandbox import SandboxFailure, SandboxLimit, sandbox
from grading.standards import Standard, get_standard, reference_text
from grading.uploads import check_files, file_problem
from markschemes.models import MarkScheme, Subject
from quizmarker.errors import DomainError, Invalid, Unsupported

logger = logging.getLogger(__name__)

SUBJECT_ROOT = "subjects"
MAX_REFERENCE_CHARS = 400_000
MIN_REFERENCE_WORDS = 20


class SubjectError(ValueError):
    """A subject that cannot be saved as asked. ``field`` names the field; ``str()`` is a sentence."""

    def __init__(self, field: str, message: str, *, kind: type[DomainError] = Invalid, code: str = "VALIDATION_ERROR"):
        super().__init__(message)
        self.field, self.message, self.kind, self.code = field, message, kind, code


def _name(value) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not name:
        raise SubjectError("name", "Give the subject a name.")
    if len(name) > 120:
        raise SubjectError("name", "The subject's name is longer than 120 characters.")
    if Subject.objects.filter(name__iexact=name).exists():
        raise SubjectError("name", f"There is already a subject called “{name}”.")
    return name


def _read_reference(upload) -> tuple[object, dict]:
    """The checked PDF and its text, read in the sandbox; or SubjectError with the upload check's sentence."""
    if upload is None:
        raise SubjectError("file", "Attach the subject's reference material as a PDF.")
    try:
        (checked,) = check_files([upload])
    except DomainError as exc:
        raise SubjectError("file", exc.message, kind=type(exc), code=exc.code) from None
    if checked.content_type != "application/pdf":
        raise SubjectError(
            "file",
            f"“{checked.original_name}” is an image; the reference material must be a PDF.",
            kind=Unsupported,
            code="UNSUPPORTED_FILE",
        )
    try:
        read = sandbox().run("pdf_text", checked.data, MAX_REFERENCE_CHARS)
    except (FileProblem, SandboxLimit, SandboxFailure) as problem:
        if isinstance(problem, SandboxFailure):
            logger.warning("Reading a subject's reference PDF failed in the sandbox: %s", problem)
        refusal = file_problem(problem, f"“{checked.original_name}”")
        raise SubjectError("file", refusal.message, kind=type(refusal), code=refusal.code) from None
    if len(read["text"].split()) < MIN_REFERENCE_WORDS:
        raise SubjectError(
            "file",
            f"“{checked.original_name}” has no text we can read (a scanned PDF?); upload the reference material as "
            "a PDF with text, such as one saved from a word processor.",
        )
    return checked, read


def add_subject(name, upload, *, by: str = "") -> Subject:
    """A new subject with its reference PDF, checked and read in the sandbox and stored under
    ``subjects/<schema>/``."""
    name = _name(name)
    checked, read = _read_reference(upload)
    checked.content.seek(0)
    path = default_storage.save(f"{SUBJECT_ROOT}/{connection.schema_name}/{uuid.uuid4()}.pdf", File(checked.content))
    try:
        with transaction.atomic():
            subject = Subject.objects.create(
                name=name,
                reference_file=path,
                reference_name=checked.original_name,
                reference_sha256=read["sha256"],
                reference_text=read["text"],
                pages=read["pages"],
                created_by=by,
            )
    except IntegrityError:  # the same name, added at the same moment
        default_storage.delete(path)
        raise SubjectError("name", f"There is already a subject called “{name}”.") from None
    except Exception:
        default_storage.delete(path)
        raise
    return subject


def as_standard(subject: Subject) -> Standard:
    """The subject in the shape grading uses for a standard (its reference material's title, pages and hash)."""
    return Standard(
        id=0,
        title=subject.name,
        pages=subject.pages,
        path=default_storage.path(subject.reference_file),
        sha256=subject.reference_sha256,
        subject_id=subject.pk,
    )


def subject_text(subject: Subject) -> str:
    """The subject's reference text, from the shared cache (keyed by the file's hash, like the shipped library);
    from the database once per file."""
    key = f"subject-text:{subject.reference_sha256}"
    text = cache.get(key, version=1)
    if text is None:
        text = Subject.objects.filter(pk=subject.pk).values_list("reference_text", flat=True).first() or ""
        cache.set(key, text, timeout=None, version=1)
    return text


def reference_for(scheme: MarkScheme) -> tuple[Standard, str] | None:
    """What a scheme is marked against: its standard's reference PDF, or its own subject's; None if it is gone."""
    if scheme.subject_id:
        subject = Subject.objects.defer("reference_text").filter(pk=scheme.subject_id).first()
        return (as_standard(subject), subject_text(subject)) if subject else None
    standard = get_standard(scheme.standard)
    return (standard, reference_text(standard)) if standard else None
