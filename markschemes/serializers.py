"""How a mark scheme looks in API v1, and the translation of a request body into the plain shape
:func:`markschemes.services.validate_scheme` checks.

The API calls a marking point's statement ``text`` (``points: [{id, text, marks}]``, as the contract says); the
services call it ``statement``. Nothing here validates a scheme: the write serializers only describe the body for
the OpenAPI schema, and every rule is :func:`~markschemes.services.validate_scheme`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from markschemes.models import MarkingPoint, MarkScheme, SchemeQuestion
from markschemes.services import SchemeError

WRITABLE = ("standard", "subject", "title", "questions")


class MarkingPointSerializer(serializers.ModelSerializer):
    text = serializers.CharField(source="statement", help_text="What an answer must say to earn these marks.")

    class Meta:
        model = MarkingPoint
        fields = ["id", "text", "marks"]
        ref_name = "MarkingPoint"


class SchemeQuestionSerializer(serializers.ModelSerializer):
    points = MarkingPointSerializer(many=True, read_only=True)

    class Meta:
        model = SchemeQuestion
        fields = ["number", "text", "max_marks", "model_answer", "points"]
        ref_name = "SchemeQuestion"


class MarkSchemeSerializer(serializers.ModelSerializer):
    questions = SchemeQuestionSerializer(many=True, read_only=True)
    total_marks = serializers.DecimalField(max_digits=7, decimal_places=2, read_only=True)

    class Meta:
        model = MarkScheme
        fields = [
            "id",
            "key",
            "standard",
            "subject",
            "title",
            "version",
            "state",
            "origin",
            "total_marks",
            "questions",
            "created_by",
            "created_at",
            "updated_at",
            "published_by",
            "published_at",
        ]
        ref_name = "MarkScheme"


# --- Request bodies (documentation only; validate_scheme decides) ---------------------------------------------


class PointWriteSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="A short statement (at most 300 characters).")
    marks = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="More than 0; whole or half marks.")

    class Meta:
        ref_name = "MarkingPointWrite"


class QuestionWriteSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="The printed number, 1–999; unique in the scheme.")
    text = serializers.CharField(help_text="The question as printed.")
    max_marks = serializers.DecimalField(
        max_digits=5, decimal_places=1, help_text="More than 0 and at most 100; whole or half marks."
    )
    model_answer = serializers.CharField(required=False, allow_blank=True)
    points = PointWriteSerializer(
        many=True, help_text="At least one; their marks must add up to at least the maximum (more reads “any of”)."
    )

    class Meta:
        ref_name = "SchemeQuestionWrite"


class MarkSchemeWriteSerializer(serializers.Serializer):
    standard = serializers.IntegerField(
        required=False, help_text="The Care Certificate standard, 1–15 (or give subject instead)."
    )
    subject = serializers.IntegerField(required=False, help_text="One of your own subjects' id (/api/v1/subjects).")
    title = serializers.CharField(help_text="At most 200 characters.")
    questions = QuestionWriteSerializer(many=True, help_text="At least one question.")

    class Meta:
        ref_name = "MarkSchemeWrite"


# --- Translation ----------------------------------------------------------------------------------------------


def _point_in(point):
    if not isinstance(point, Mapping):
        return point  # validate_scheme says what is wrong with it
    return {"statement": point.get("text"), "marks": point.get("marks")}


def _question_in(question):
    if not isinstance(question, Mapping) or not isinstance(question.get("points"), list):
        return question
    return {**question, "points": [_point_in(p) for p in question["points"]]}


def scheme_input(body, current: Mapping | None = None):
    """The request body in the services' shape. With ``current`` (a stored scheme's ``scheme_data``), the body's
    fields replace the current ones (a PATCH); fields other than standard, title and questions are ignored, as DRF
    ignores read-only fields."""
    if not isinstance(body, Mapping):
        raise SchemeError("scheme", "Send the mark scheme as a JSON object with a standard, a title and questions.")
    data = dict(current or {})
    for field in WRITABLE:
        if field in body:
            data[field] = body[field]
    if isinstance(data.get("questions"), list) and "questions" in body:
        data["questions"] = [_question_in(q) for q in data["questions"]]
    return data


def api_field(field: str) -> str:
    """A services field name as the API names it (a point's ``statement`` is its ``text``)."""
    return field.replace(".statement", ".text")
