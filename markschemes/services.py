"""Business actions on mark schemes, and the one place that says what a valid scheme is.

Content comes in as plain data (the shape the API and the shipped defaults use)::

    {"standard": 3, "title": "Standard 3: Duty of care",  # or "subject": <an own subject's id> instead of standard
     "questions": [{"number": 1, "text": "What does duty of care mean?", "max_marks": 3,
                    "model_answer": "…",  # optional
                    "points": [{"statement": "legal obligation", "marks": 1}, …]}, …]}

:func:`validate_scheme` turns it into a :class:`SchemeSpec` or raises :class:`SchemeError`, whose ``field`` names
the offending field (``questions[1].points[0].marks``) and whose message is a sentence for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from markschemes.models import (
    MAX_QUESTION_MARKS,
    MarkingPoint,
    MarkScheme,
    SchemeOrigin,
    SchemeQuestion,
    SchemeState,
    Subject,
)
from markschemes.scoring import marks_text

STANDARD_IDS = range(1, 16)
MAX_QUESTIONS = 100
MAX_POINTS = 30
HALF = Decimal("0.5")


class SchemeError(ValueError):
    """A scheme that cannot be saved or published as asked. ``field`` names the field; ``str()`` is a sentence."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PointSpec:
    statement: str
    marks: Decimal


@dataclass(frozen=True)
class QuestionSpec:
    number: int
    text: str
    max_marks: Decimal
    model_answer: str
    points: tuple[PointSpec, ...]


@dataclass(frozen=True)
class SchemeSpec:
    standard: int | None
    title: str
    questions: tuple[QuestionSpec, ...]
    subject: int | None = None


# --- Validation -----------------------------------------------------------------------------------------------


def _marks(value, field: str, what: str, *, maximum: Decimal) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise SchemeError(field, f"{what} must be a number of marks.")
    try:
        marks = Decimal(str(value).strip())
    except InvalidOperation:
        raise SchemeError(field, f"{what} must be a number of marks, not “{value}”.")
    if not marks.is_finite() or marks <= 0 or marks > maximum:
        raise SchemeError(field, f"{what} must be more than 0 and at most {marks_text(maximum)} marks (got {value}).")
    if marks % HALF:
        raise SchemeError(field, f"{what} must be a whole or half mark (got {value}).")
    return marks.quantize(Decimal("0.01"))


def _text(value, field: str, what: str, *, limit: int | None = None, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SchemeError(field, f"{what} must be text.")
    text = value.strip()
    if required and not text:
        raise SchemeError(field, f"{what} is empty.")
    if limit and len(text) > limit:
        raise SchemeError(field, f"{what} is longer than {limit} characters.")
    return text


def _points(raw, field: str, label: str) -> tuple[PointSpec, ...]:
    if not isinstance(raw, list | tuple) or not raw:
        raise SchemeError(field, f"{label} needs at least one marking point.")
    if len(raw) > MAX_POINTS:
        raise SchemeError(field, f"{label} has more than {MAX_POINTS} marking points.")
    points = []
    for j, point in enumerate(raw):
        where = f"{field}[{j}]"
        if not isinstance(point, Mapping):
            raise SchemeError(where, f"{label}, marking point {j + 1} must be a statement with its marks.")
        what = f"{label}, marking point {j + 1}"
        statement = _text(point.get("statement"), f"{where}.statement", f"{what}'s statement", limit=300)
        marks = _marks(point.get("marks"), f"{where}.marks", f"{what}'s marks", maximum=MAX_QUESTION_MARKS)
        points.append(PointSpec(statement=statement, marks=marks))
    return tuple(points)


def _question(raw, i: int) -> QuestionSpec:
    field = f"questions[{i}]"
    if not isinstance(raw, Mapping):
        raise SchemeError(field, f"Question {i + 1} must have a number, text, maximum marks and marking points.")
    number = raw.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 999:
        raise SchemeError(f"{field}.number", f"Question {i + 1}'s number must be a whole number from 1 to 999.")
    label = f"Question {number}"
    text = _text(raw.get("text"), f"{field}.text", f"{label}'s text", limit=2000)
    max_marks = _marks(raw.get("max_marks"), f"{field}.max_marks", f"{label}'s maximum", maximum=MAX_QUESTION_MARKS)
    model_answer = _text(
        raw.get("model_answer"), f"{field}.model_answer", f"{label}'s model answer", limit=5000, required=False
    )
    points = _points(raw.get("points"), f"{field}.points", label)
    reachable = sum((p.marks for p in points), Decimal("0"))
    if reachable < max_marks:
        raise SchemeError(
            f"{field}.points",
            f"{label}'s marking points add up to {marks_text(reachable)} marks, so its maximum of "
            f"{marks_text(max_marks)} can never be reached.",
        )
    return QuestionSpec(number=number, text=text, max_marks=max_marks, model_answer=model_answer, points=points)


def validate_scheme(data: Mapping) -> SchemeSpec:
    """The scheme in ``data``, checked; or :class:`SchemeError` naming the first field that is wrong."""
    if not isinstance(data, Mapping):
        raise SchemeError("scheme", "A mark scheme must have a standard, a title and questions.")
    standard, subject = subject_of(data)
    title = _text(data.get("title"), "title", "The title", limit=200)
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list | tuple) or not raw_questions:
        raise SchemeError("questions", "A mark scheme needs at least one question.")
    if len(raw_questions) > MAX_QUESTIONS:
        raise SchemeError("questions", f"A mark scheme has at most {MAX_QUESTIONS} questions.")
    questions, seen = [], set()
    for i, raw in enumerate(raw_questions):
        question = _question(raw, i)
        if question.number in seen:
            raise SchemeError(f"questions[{i}].number", f"Question number {question.number} appears twice.")
        seen.add(question.number)
        questions.append(question)
    ordered = tuple(sorted(questions, key=lambda q: q.number))
    return SchemeSpec(standard=standard, title=title, questions=ordered, subject=subject)


def subject_of(data: Mapping) -> tuple[int | None, int | None]:
    """(standard, own subject id): a scheme marks exactly one of the two."""
    standard, subject = data.get("standard"), data.get("subject")
    if subject is not None:
        if standard is not None:
            raise SchemeError("subject", "A mark scheme marks a standard or one of your own subjects, not both.")
        if isinstance(subject, bool) or not isinstance(subject, int) or not Subject.objects.filter(pk=subject).exists():
            raise SchemeError("subject", f"There is no subject {subject} in this organization.")
        return None, subject
    if isinstance(standard, bool) or not isinstance(standard, int) or standard not in STANDARD_IDS:
        raise SchemeError(
            "standard", "The standard must be a Care Certificate standard from 1 to 15 (or give one of your subjects)."
        )
    return standard, None


def scheme_data(scheme: MarkScheme) -> dict:
    """A stored scheme in the same plain shape :func:`validate_scheme` takes (marks as strings, exact)."""
    return {
        "standard": scheme.standard,
        "subject": scheme.subject_id,
        "title": scheme.title,
        "questions": [
            {
                "number": q.number,
                "text": q.text,
                "max_marks": str(q.max_marks),
                "model_answer": q.model_answer,
                "points": [{"statement": p.statement, "marks": str(p.marks)} for p in q.points.all()],
            }
            for q in scheme.questions.prefetch_related("points")
        ],
    }


# --- Actions --------------------------------------------------------------------------------------------------


def write_content(scheme, spec: SchemeSpec, *, question_model=SchemeQuestion, point_model=MarkingPoint) -> None:
    """Store ``spec``'s questions and points under a saved ``scheme`` (which has none yet). The model classes can be
    a migration's historical ones."""
    questions = question_model.objects.bulk_create(
        question_model(scheme=scheme, number=q.number, text=q.text, max_marks=q.max_marks, model_answer=q.model_answer)
        for q in spec.questions
    )
    point_model.objects.bulk_create(
        point_model(question=row, order=order, statement=p.statement, marks=p.marks)
        for row, q in zip(questions, spec.questions, strict=True)
        for order, p in enumerate(q.points, start=1)
    )


@transaction.atomic
def create_draft(data: Mapping, *, created_by: str = "", origin: str = SchemeOrigin.ORGANIZATION) -> MarkScheme:
    """A new scheme (a new key) at version 1, as a draft."""
    spec = validate_scheme(data)
    scheme = MarkScheme.objects.create(
        standard=spec.standard, subject_id=spec.subject, title=spec.title, created_by=created_by, origin=origin
    )
    write_content(scheme, spec)
    return scheme


@transaction.atomic
def update_draft(scheme: MarkScheme, data: Mapping, *, by: str = "") -> MarkScheme:
    """Replace a scheme's content and return the draft that now holds it.

    A draft is changed in place. A published or archived version is never changed: the key's next version is
    created as a draft with the new content (refused if the key already has a draft: edit that one)."""
    spec = validate_scheme(data)
    scheme = MarkScheme.objects.select_for_update().get(pk=scheme.pk)
    moved = (spec.standard, spec.subject) != (scheme.standard, scheme.subject_id)
    if moved and (scheme.version > 1 or scheme.state != SchemeState.DRAFT):
        raise SchemeError(
            "subject" if scheme.subject_id else "standard",
            "A new version keeps its scheme's standard or subject; create a new scheme instead.",
        )
    if scheme.state == SchemeState.DRAFT:
        scheme.questions.all().delete()
        scheme.title, scheme.standard, scheme.subject_id = spec.title, spec.standard, spec.subject
        scheme.save(update_fields=["title", "standard", "subject", "updated_at"])
        write_content(scheme, spec)
        return scheme
    siblings = MarkScheme.objects.select_for_update().filter(key=scheme.key)
    draft = siblings.filter(state=SchemeState.DRAFT).first()
    if draft is not None:
        raise SchemeError("state", f"Version {draft.version} of this scheme is already a draft; edit that draft.")
    latest = max(s.version for s in siblings)
    draft = MarkScheme.objects.create(
        key=scheme.key,
        version=latest + 1,
        standard=spec.standard,
        subject_id=spec.subject,
        title=spec.title,
        origin=scheme.origin,
        created_by=by,
    )
    write_content(draft, spec)
    return draft


@transaction.atomic
def publish(scheme: MarkScheme, *, by: str = "") -> MarkScheme:
    """Publish a draft: it becomes the scheme's published version and the key's previous one is archived.
    Submissions already graded (or being graded) keep the version they were given."""
    scheme = MarkScheme.objects.select_for_update().get(pk=scheme.pk)
    if scheme.state != SchemeState.DRAFT:
        raise SchemeError("state", f"Only a draft can be published; version {scheme.version} is {scheme.state}.")
    validate_scheme(scheme_data(scheme))
    MarkScheme.objects.filter(key=scheme.key, state=SchemeState.PUBLISHED).update(
        state=SchemeState.ARCHIVED, updated_at=timezone.now()
    )
    scheme.state, scheme.published_at, scheme.published_by = SchemeState.PUBLISHED, timezone.now(), by
    scheme.save(update_fields=["state", "published_at", "published_by", "updated_at"])
    return scheme


def published_for_standard(standard: int) -> MarkScheme | None:
    """The published scheme for a Care Certificate standard (the most recently published, when several are)."""
    return (
        MarkScheme.objects.filter(standard=standard, state=SchemeState.PUBLISHED)
        .order_by("-published_at", "-pk")
        .first()
    )


def published_for_subject(subject_id: int) -> MarkScheme | None:
    """The published scheme for an organization's own subject (the most recently published, when several are)."""
    return (
        MarkScheme.objects.filter(subject_id=subject_id, state=SchemeState.PUBLISHED)
        .order_by("-published_at", "-pk")
        .first()
    )


def scheme_with_content(pk: int) -> MarkScheme:
    """A scheme with its questions and points loaded in three queries (for grading and display)."""
    return MarkScheme.objects.prefetch_related("questions__points").get(pk=pk)
