from __future__ import annotations

from rest_framework import serializers

from grading.models import QuestionResult, Student, Submission
from integrations.fields import CallbackUrlField
from jobs.models import Priority


class MarkSchemeVersionSerializer(serializers.Serializer):
    """Which mark scheme version a submission was marked with."""

    id = serializers.IntegerField()
    key = serializers.UUIDField()
    standard = serializers.IntegerField()
    title = serializers.CharField()
    version = serializers.IntegerField()
    state = serializers.CharField()


class QuestionResultSerializer(serializers.ModelSerializer):
    score = serializers.DecimalField(
        source="effective_score", max_digits=5, decimal_places=2, read_only=True, allow_null=True
    )
    feedback = serializers.CharField(read_only=True)

    class Meta:
        model = QuestionResult
        fields = [
            "number",
            "question_text",
            "answer_text",
            "page_number",
            "legibility",
            "max_score",
            "outside_scheme",
            "detected_number",
            "detected_max_score",
            "score",
            "feedback",
            "ai_score",
            "ai_feedback",
            "confidence",
            "needs_review",
            "review_reason",
            "final_score",
            "final_feedback",
            "final_set_by",
            "final_set_at",
        ]


class StudentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Student
        fields = ["id", "full_name", "reference", "created_at"]


class SubmissionSerializer(serializers.ModelSerializer):
    student = StudentSerializer(read_only=True)
    needs_review = serializers.SerializerMethodField()
    flags = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Why the script needs a person before grading: learner not identified, no question found.",
    )
    mark_scheme = MarkSchemeVersionSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Submission
        fields = [
            "id",
            "student",
            "detected_student_name",
            "standard",
            "detected_standard",
            "mark_scheme",
            "status",
            "grading_error",
            "needs_review",
            "flags",
            "page_count",
            "extraction_source",
            "total_score",
            "max_score",
            "percentage",
            "provider",
            "model",
            "prompt_version",
            "prompt_tokens",
            "cached_tokens",
            "completion_tokens",
            "upload_job_id",
            "grading_job_id",
            "session_id",
            "graded_by",
            "graded_at",
            "created_at",
        ]

    def get_needs_review(self, submission: Submission) -> bool:
        return any(q.needs_review and q.final_score is None for q in submission.questions.all())


class SubmissionDetailSerializer(SubmissionSerializer):
    questions = QuestionResultSerializer(many=True, read_only=True)

    class Meta(SubmissionSerializer.Meta):
        fields = [*SubmissionSerializer.Meta.fields, "questions"]


def priority_field() -> serializers.ChoiceField:
    """A request's ``priority``: normal (the default) or high (owners and admins; grading.api checks who asks)."""
    return serializers.ChoiceField(
        choices=Priority.values,
        required=False,
        default=Priority.NORMAL,
        help_text="high (owners and admins only; 403 otherwise): served before the organization's other work, "
        "within its fair share of the workers and the AI provider.",
    )


class GradeRequestSerializer(serializers.Serializer):
    upload_job_id = serializers.UUIDField(required=False)
    submission_id = serializers.UUIDField(required=False)
    standard_id = serializers.IntegerField(required=False, min_value=1, max_value=99)
    mark_scheme_id = serializers.IntegerField(required=False, min_value=1)
    callback_url = CallbackUrlField(required=False)
    priority = priority_field()

    def validate(self, data):
        if bool(data.get("upload_job_id")) == bool(data.get("submission_id")):
            raise serializers.ValidationError("Give either upload_job_id or submission_id (one of them).")
        return data


class UploadFieldsSerializer(serializers.Serializer):
    standard_id = serializers.IntegerField(required=False, min_value=1, max_value=99, allow_null=True)
    mark_scheme_id = serializers.IntegerField(required=False, min_value=1, allow_null=True)
    grade = serializers.BooleanField(required=False, default=False)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    session_label = serializers.CharField(required=False, max_length=200, allow_blank=True)
    callback_url = CallbackUrlField(required=False)
    priority = priority_field()
