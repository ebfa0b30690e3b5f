"""Mark schemes: the organization's authority on which questions a quiz has, what each is worth, and why each mark
is given. These tables live in every organization's schema (a tenant app), like the students and their results.

The model
---------
``MarkScheme``
    One version of one scheme. It belongs to a *subject*: a Care Certificate standard (``standard``, 1–15) or one
    of the organization's own subjects (``subject``); the check constraint ``mark_scheme_has_a_subject`` says
    exactly one of the two.
    ``key`` is shared by every version of one scheme; ``version`` counts 1, 2, 3… within a key.
    ``state`` is draft → published → archived:

    * a **draft** may be edited (at most one draft per key);
    * **publishing** a draft archives the key's previously published version (at most one published per key);
    * **editing a published (or archived) scheme** never changes it: it creates the key's next draft version, so
      every graded submission keeps pointing at the exact version it was marked with.

    Several schemes (keys) may be published for the same standard; "the published scheme for standard N"
    (:func:`markschemes.services.published_for_standard`) is the one published most recently. ``origin`` says where
    a scheme came from (``default``: installed from ``reference_pdfs/source/mark_schemes.json``).

``Subject``
    An organization's own subject (beyond the Care Certificate): a ``name`` and its reference material, a PDF
    stored per organization (``reference_file``, in the default storage under ``subjects/<schema>/``), checked and
    read in the file sandbox when it is uploaded (``reference_text``, ``pages``, ``reference_sha256``). Workers read
    the text once per file through the shared cache, as they read the shipped library (:mod:`markschemes.subjects`).

``SchemeQuestion``
    A question of a scheme version: its printed ``number`` (unique in the version), question ``text``,
    ``max_marks`` (half marks allowed; more than 0 and at most 100) and an optional ``model_answer``.

``MarkingPoint``
    What an answer must say to earn marks: ``order`` within the question, a short ``statement`` and its ``marks``
    (half marks allowed, more than 0). **A question's score is the sum of the marks of the points the answer meets,
    capped at the question's maximum** (:func:`markschemes.scoring.points_score` owns that rule). "Any two of
    these four" is four points of 1 mark under a maximum of 2: points whose marks add up to more than the maximum.

How grading records it (``grading.models``)
-------------------------------------------
``Submission.mark_scheme`` is the exact version a submission was marked with (PROTECT: a version that marked
something is never deleted). ``QuestionResult.scheme_question`` is the scheme question an answer was matched to,
whose ``max_marks`` is the result's ``max_score``; ``outside_scheme`` marks an answer to a question the scheme does
not have (shown, flagged, never scored); ``detected_max_score`` is what the sheet claimed, for display only.
``detected_number`` keeps the printed number when the answer was matched to another.
``PointDecision`` holds, per answer and marking point, the AI's decision (``ai_met``, with the ``quote`` of the
answer that meets it) and the assessor's (``assessor_met``); ``met`` is the one that counts.

All rules about what a valid scheme is live in :mod:`markschemes.services` (``validate_scheme``); the database
constraints below are only a backstop.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

MAX_QUESTION_MARKS = Decimal("100")


class SchemeState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class SchemeOrigin(models.TextChoices):
    DEFAULT = "default", "Shipped with QuizMarker"
    ORGANIZATION = "organization", "Written by the organization"
    IMPORTED = "imported", "Imported from a document"


class Subject(models.Model):
    name = models.CharField(max_length=120, unique=True)
    reference_file = models.CharField(max_length=300, help_text="Path of the reference PDF in the default storage.")
    reference_name = models.CharField(max_length=255, help_text="The PDF's name as uploaded.")
    reference_sha256 = models.CharField(max_length=64)
    reference_text = models.TextField(help_text="The PDF's text, read in the file sandbox when it was uploaded.")
    pages = models.PositiveSmallIntegerField()
    created_by = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MarkScheme(models.Model):
    key = models.UUIDField(default=uuid.uuid4, db_index=True, help_text="Shared by every version of this scheme.")
    version = models.PositiveIntegerField(default=1)
    standard = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(15)],
        help_text="The Care Certificate standard this scheme marks.",
    )
    subject = models.ForeignKey(
        Subject,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="schemes",
        help_text="The organization's own subject this scheme marks (instead of a standard).",
    )
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=SchemeState.choices, default=SchemeState.DRAFT, db_index=True)
    origin = models.CharField(max_length=20, choices=SchemeOrigin.choices, default=SchemeOrigin.ORGANIZATION)
    created_by = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.EmailField(blank=True)

    class Meta:
        ordering = ["standard", "title", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="one_mark_scheme_per_key_version"),
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(state="published"), name="one_published_version_per_key"
            ),
            models.UniqueConstraint(fields=["key"], condition=models.Q(state="draft"), name="one_draft_per_key"),
            models.CheckConstraint(
                condition=models.Q(standard__isnull=False, subject__isnull=True)
                | models.Q(standard__isnull=True, subject__isnull=False),
                name="mark_scheme_has_a_subject",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="published") | models.Q(published_at__isnull=False),
                name="published_mark_scheme_has_a_date",
            ),
        ]
        indexes = [models.Index(fields=["standard", "state"], name="mark_scheme_subject_state")]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version}, {self.get_state_display().lower()})"

    @property
    def subject_label(self) -> str:
        if self.standard:
            return f"Standard {self.standard}"
        return self.subject.name if self.subject_id else "No subject"

    @property
    def total_marks(self) -> Decimal:
        return sum((q.max_marks for q in self.questions.all()), Decimal("0"))


class SchemeQuestion(models.Model):
    scheme = models.ForeignKey(MarkScheme, on_delete=models.CASCADE, related_name="questions")
    number = models.PositiveSmallIntegerField()
    text = models.TextField()
    max_marks = models.DecimalField(max_digits=5, decimal_places=2)
    model_answer = models.TextField(blank=True)

    class Meta:
        ordering = ["scheme", "number"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "number"], name="one_scheme_question_per_number"),
            models.CheckConstraint(
                condition=models.Q(max_marks__gt=0) & models.Q(max_marks__lte=MAX_QUESTION_MARKS),
                name="scheme_question_marks_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Q{self.number} of {self.scheme}"


class MarkingPoint(models.Model):
    question = models.ForeignKey(SchemeQuestion, on_delete=models.CASCADE, related_name="points")
    order = models.PositiveSmallIntegerField()
    statement = models.CharField(max_length=300)
    marks = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["question", "order"]
        constraints = [
            models.UniqueConstraint(fields=["question", "order"], name="one_marking_point_per_order"),
            models.CheckConstraint(condition=models.Q(marks__gt=0), name="marking_point_marks_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.statement} ({self.marks})"
