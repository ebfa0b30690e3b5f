"""API v1: split a script, move its pages to another script, or merge two, before grading (grading.script_edits).
Any member of the organization may, as for the other review edits (the API's default permission)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from grading.api_lookups import submission_or_404, submissions_with_questions
from grading.errors import NotFound
from grading.script_edits import move_pages
from grading.serializers import SubmissionSerializer
from integrations.schema import error_response
from quizmarker.api import ApiError, ok

SCRIPT_EDIT_ERRORS = {
    400: error_response("VALIDATION_ERROR"),
    404: error_response("NOT_FOUND"),
    409: error_response("SCRIPT_ALREADY_GRADED"),
}


class SplitSerializer(serializers.Serializer):
    from_page = serializers.IntegerField(
        min_value=2, help_text="The first page of the new script; it takes this page and every page after it."
    )


class MovePagesSerializer(serializers.Serializer):
    pages = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500, help_text="Page numbers to move."
    )
    to_submission_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The script to add them to (after its pages); omitted or null: a new script of their own.",
    )


class MergeSerializer(serializers.Serializer):
    submission_id = serializers.UUIDField(help_text="The script whose pages join this one (it is then removed).")


class ScriptsSerializer(serializers.Serializer):
    scripts = SubmissionSerializer(many=True, help_text="The scripts as they are now (an emptied one is removed).")


def _answer(outcome: dict) -> dict:
    ids = [pk for pk in (outcome["source"], outcome["target"]) if pk]
    found = {str(s.pk): s for s in submissions_with_questions().filter(pk__in=ids)}
    return {"scripts": SubmissionSerializer([found[pk] for pk in ids], many=True).data}


def _other(submission_id) -> object:
    try:
        return submission_or_404(submission_id)
    except NotFound as exc:
        raise ApiError(
            "No script with that id in this organization.",
            code="VALIDATION_ERROR",
            details={"submission_id": ["Unknown script."]},
        ) from exc


class SplitView(APIView):
    @extend_schema(
        summary="Split a script in two",
        description="Before grading: pages from from_page on become a new script (their answers go with them). "
        "The new script takes the learner name read on its pages. 409 once the script is graded or being graded.",
        request=SplitSerializer,
        responses={200: ScriptsSerializer, **SCRIPT_EDIT_ERRORS},
        examples=[OpenApiExample("Pages 2 onwards are another learner's", value={"from_page": 2}, request_only=True)],
        tags=["submissions"],
    )
    def post(self, request, submission_id):
        source = submission_or_404(submission_id)
        body = SplitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pages = list(range(body.validated_data["from_page"], source.page_count + 1))
        if not pages:
            raise ApiError(
                f"The script has {source.page_count} page(s); there is nothing from page "
                f"{body.validated_data['from_page']} on to split off.",
                code="VALIDATION_ERROR",
                details={"from_page": ["Past the last page."]},
            )
        return ok(_answer(move_pages(source, pages, None)))


class MovePagesView(APIView):
    @extend_schema(
        summary="Move pages to another script",
        description="Before grading: the pages (and their answers) go to the end of another script, or to a new "
        "script of their own. An answer to a question the receiving script already has is kept apart and flagged, "
        "never joined. A script left without pages is removed.",
        request=MovePagesSerializer,
        responses={200: ScriptsSerializer, **SCRIPT_EDIT_ERRORS},
        examples=[
            OpenApiExample(
                "Page 3 belongs to another script",
                value={"pages": [3], "to_submission_id": "9b2f0c1e-52a4-4c7e-9d4f-0e8f6c1a2b3c"},
                request_only=True,
            )
        ],
        tags=["submissions"],
    )
    def post(self, request, submission_id):
        source = submission_or_404(submission_id)
        body = MovePagesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target_id = body.validated_data.get("to_submission_id")
        target = _other(target_id) if target_id else None
        return ok(_answer(move_pages(source, body.validated_data["pages"], target)))


class MergeView(APIView):
    @extend_schema(
        summary="Merge another script into this one",
        description="Before grading: every page of the other script (and its answers) joins the end of this one; "
        "the other script is removed. Answers to the same question are kept apart and flagged, never joined.",
        request=MergeSerializer,
        responses={200: ScriptsSerializer, **SCRIPT_EDIT_ERRORS},
        tags=["submissions"],
    )
    def post(self, request, submission_id):
        target = submission_or_404(submission_id)
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        source = _other(body.validated_data["submission_id"])
        if source.pk == target.pk:
            raise ApiError(
                "A script cannot be merged with itself.",
                code="VALIDATION_ERROR",
                details={"submission_id": ["Same script."]},
            )
        outcome = move_pages(source, list(range(1, source.page_count + 1)), target)
        return ok(_answer(outcome))
