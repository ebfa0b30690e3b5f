"""Students, their submissions and per-question results. These tables exist in every organization's schema and
nowhere else, so one organization's student data can never be read through another's.

People are recorded by email (not a foreign key to the public user table): a user deleted in the public schema must
not need to reach into every tenant schema, and the audit trail keeps who did what.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class Student(models.Model):
    full_name = models.CharField(max_length=200)
    reference = models.CharField(max_length=100, blank=True, help_text="Your own id for the learner, optional.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["full_name"]
        indexes = [models.Index(fields=["full_name"], name="student_name")]

    def __str__(self) -> str:
        return self.full_name

    @classmethod
    def named(cls, name: str) -> Student | None:
        """The learner a name read on a sheet stands for: the earliest of that name (any case), else a new one."""
        if not name:
            return None
        return cls.objects.filter(full_name__iexact=name).order_by("created_at").first() or cls.objects.create(
            full_name=name
        )


class SubmissionStatus(models.TextChoices):
    EXTRACTING = "extracting", "Reading the pages"
    EXTRACTED = "extracted", "Ready to review and grade"
    GRADING = "grading", "Being graded"
    GRADING_FAILED = "grading_failed", "Grading failed"
    GRADED = "graded", "Graded"
    NEEDS_REVIEW = "needs_review", "Graded — needs review"
    REVIEWED = "reviewed", "Reviewed"


class Submission(models.Model):
    """One student's answer script for one standard (a quiz), from upload to reviewed result."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    student = models.ForeignKey(Student, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions")
    detected_student_name = models.CharField(max_length=200, blank=True)
    standard = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(15)]
    )
    detected_standard = models.PositiveSmallIntegerField(null=True, blank=True)
    mark_scheme = models.ForeignKey(
        "markschemes.MarkScheme",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="submissions",
        help_text="The exact scheme version this submission was (or is being) marked with.",
    )
    status = models.CharField(
        max_length=20, choices=SubmissionStatus.choices, default=SubmissionStatus.EXTRACTED, db_index=True
    )
    upload_job_id = models.UUIDField(db_index=True)
    grading_job_id = models.UUIDField(null=True, blank=True, db_index=True, help_text="Its latest grading job.")
    grading_error = models.CharField(
        max_length=500, blank=True, help_text="Why its latest grading did not complete (status grading_failed)."
    )
    session_id = models.UUIDField(null=True, blank=True, db_index=True)
    page_count = models.PositiveSmallIntegerField(default=0)
    extraction_source = models.CharField(max_length=20, blank=True, help_text="vision, ocr or pdf_text")
    total_score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=20, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    uploaded_by = models.EmailField(blank=True)
    graded_by = models.EmailField(blank=True, help_text="Who started the grading.")
    graded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        who = self.student.full_name if self.student else (self.detected_student_name or "Unknown student")
        return f"{who} — Standard {self.standard or '?'}"

    def recompute_totals(self, questions: list | None = None) -> None:
        """Totals from each question's final score (the assessor's if set, else the AI's). A question nobody has
        scored yet leaves the total open: no score is invented for it. Answers outside the mark scheme count for
        nothing (they are never scored). ``questions``: the rows, when the caller has them fresh."""
        questions = [q for q in (self.questions.all() if questions is None else questions) if not q.outside_scheme]
        maximum = sum((q.max_score for q in questions), Decimal("0"))
        scores = [q.effective_score for q in questions]
        self.max_score = maximum if questions else None
        if questions and all(score is not None for score in scores):
            self.total_score = sum(scores, Decimal("0"))
            self.percentage = (self.total_score / maximum * 100).quantize(Decimal("0.01")) if maximum else None
        else:
            self.total_score = None
            self.percentage = None

    @property
    def needs_review(self) -> bool:
        return self.questions.filter(needs_review=True, final_score__isnull=True).exists()

    @property
    def flags(self) -> list[str]:
        """Why this script needs a person before it is graded (grading.grouping.script_flags)."""
        from grading.grouping import script_flags

        return script_flags(learner_known=self.student_id is not None, question_count=len(self.questions.all()))


class Page(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="pages")
    number = models.PositiveSmallIntegerField()
    file = models.CharField(max_length=300, help_text="Path in the upload storage")
    text = models.TextField(blank=True, help_text="What was read from the page")
    student_name = models.CharField(max_length=200, blank=True, help_text="The learner's name read on this page.")
    legibility = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "number"]
        constraints = [models.UniqueConstraint(fields=["submission", "number"], name="one_page_number_per_submission")]

    def __str__(self) -> str:
        return f"Page {self.number} of {self.submission_id}"


class QuestionResult(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="questions")
    number = models.PositiveSmallIntegerField()
    question_text = models.TextField(blank=True)
    answer_text = models.TextField(blank=True)
    page_number = models.PositiveSmallIntegerField(null=True, blank=True)
    legibility = models.FloatField(null=True, blank=True)
    max_score = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("2"))
    scheme_question = models.ForeignKey(
        "markschemes.SchemeQuestion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="results",
        help_text="The mark scheme's question this answer was matched to (its marks are the maximum).",
    )
    outside_scheme = models.BooleanField(
        default=False, help_text="An answer to a question the mark scheme does not have: shown, never scored."
    )
    detected_number = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The number printed on the sheet, when it differs from the scheme's."
    )
    detected_max_score = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="Marks the sheet showed; display only."
    )
    ai_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    ai_feedback = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    needs_review = models.BooleanField(default=False, db_index=True)
    review_reason = models.CharField(max_length=300, blank=True)
    final_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    final_feedback = models.TextField(blank=True)
    final_set_by = models.EmailField(blank=True)
    final_set_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "number"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "number"], name="one_result_per_question"),
            models.CheckConstraint(
                condition=models.Q(ai_score__isnull=True) | models.Q(ai_score__gte=0), name="ai_score_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(ai_score__isnull=True) | models.Q(ai_score__lte=models.F("max_score")),
                name="ai_score_within_max",
            ),
            models.CheckConstraint(
                condition=models.Q(final_score__isnull=True)
                | (models.Q(final_score__gte=0) & models.Q(final_score__lte=models.F("max_score"))),
                name="final_score_within_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Q{self.number} of {self.submission_id}"

    @property
    def effective_score(self) -> Decimal | None:
        return self.final_score if self.final_score is not None else self.ai_score

    @property
    def feedback(self) -> str:
        return self.final_feedback or self.ai_feedback


class PointDecision(models.Model):
    """Whether one answer meets one marking point of its scheme question: the AI's decision with the words of the
    answer that meet it, and the assessor's, if they ticked or unticked it (``met`` is the one that counts)."""

    question = models.ForeignKey(QuestionResult, on_delete=models.CASCADE, related_name="point_decisions")
    point = models.ForeignKey("markschemes.MarkingPoint", on_delete=models.PROTECT, related_name="decisions")
    ai_met = models.BooleanField(null=True, blank=True, help_text="Empty when the AI made no decision.")
    quote = models.TextField(blank=True, help_text="The words of the answer that meet the point.")
    assessor_met = models.BooleanField(null=True, blank=True)
    assessor_set_by = models.EmailField(blank=True)
    assessor_set_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["question", "point__order"]
        constraints = [models.UniqueConstraint(fields=["question", "point"], name="one_decision_per_point")]

    def __str__(self) -> str:
        return f"{self.point} for {self.question}: {'met' if self.met else 'not met'}"

    @property
    def met(self) -> bool:
        return bool(self.assessor_met if self.assessor_met is not None else self.ai_met)


class ScoreChange(models.Model):
    """Audit trail: who changed which score or feedback, when, and why."""

    question = models.ForeignKey(QuestionResult, on_delete=models.CASCADE, related_name="changes")
    changed_by = models.EmailField()
    changed_at = models.DateTimeField(default=timezone.now)
    old_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    new_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    old_feedback = models.TextField(blank=True)
    new_feedback = models.TextField(blank=True)
    points = models.JSONField(
        default=list,
        blank=True,
        help_text="Marking points the assessor ticked or unticked: [{point_id, statement, from, to}].",
    )
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.changed_by} changed Q{self.question.number} at {self.changed_at:%Y-%m-%d %H:%M}"


class UploadedFile(models.Model):
    """A file as the user uploaded it. Its original name may name a student, so it lives here, not on the job."""

    upload_job_id = models.UUIDField(db_index=True)
    original_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=300)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["upload_job_id", "id"]

    def __str__(self) -> str:
        return self.original_name
