"""Mark-scheme endpoints of API v1: list, detail, create a draft, edit it, publish it.

Members (assessors) read; owners and admins write. Every rule about a valid scheme and about versions is
:mod:`markschemes.services`'s: a :class:`~markschemes.services.SchemeError` becomes a 400 naming the field, or a
409 when the scheme's state does not allow the action.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.views import APIView

from integrations.schema import error_response
from markschemes.models import MarkScheme, SchemeState
from markschemes.serializers import MarkSchemeSerializer, MarkSchemeWriteSerializer, api_field, scheme_input
from markschemes.services import STANDARD_IDS, SchemeError, create_draft, publish, scheme_data, update_draft
from quizmarker.api import ApiError, IsOrganizationAdmin, IsOrganizationMember, PageQuery, ok, page_serializer, paged
from quizmarker.errors import found

TAGS = ["mark-schemes"]

EXAMPLE_BODY = {
    "standard": 3,
    "title": "Standard 3: Duty of care (our quiz)",
    "questions": [
        {
            "number": 1,
            "text": "What does duty of care mean?",
            "max_marks": 2,
            "model_answer": "A legal obligation to act in the best interests of the people you support.",
            "points": [
                {"text": "legal obligation", "marks": 1},
                {"text": "act in the best interests", "marks": 1},
                {"text": "avoid harm", "marks": 1},
            ],
        }
    ],
}

EXAMPLE_SCHEME = {
    "id": 42,
    "key": "0b6c3c1e-4f51-4c53-9d1e-6a3b1f0f4a77",
    "standard": 3,
    "title": "Standard 3: Duty of care (our quiz)",
    "version": 1,
    "state": "draft",
    "origin": "organization",
    "total_marks": "2.00",
    "questions": [
        {
            "number": 1,
            "text": "What does duty of care mean?",
            "max_marks": "2.00",
            "model_answer": "A legal obligation to act in the best interests of the people you support.",
            "points": [
                {"id": 301, "text": "legal obligation", "marks": "1.00"},
                {"id": 302, "text": "act in the best interests", "marks": "1.00"},
                {"id": 303, "text": "avoid harm", "marks": "1.00"},
            ],
        }
    ],
    "created_by": "alice@example.org",
    "created_at": "2025-05-01T09:00:00Z",
    "updated_at": "2025-05-01T09:00:00Z",
    "published_by": "",
    "published_at": None,
}

BAD_SCHEME = (
    "Question 1's marking points add up to 3 marks, so its maximum of 4 can never be reached.",
    {
        "questions[0].points": [
            "Question 1's marking points add up to 3 marks, so its maximum of 4 can never be reached."
        ]
    },
)


def _bad_scheme(error: SchemeError) -> ApiError:
    field = api_field(error.field)
    return ApiError(error.message, code="VALIDATION_ERROR", status_code=400, details={field: [error.message]})


def _schemes():
    return MarkScheme.objects.prefetch_related("questions__points")


def _get_scheme(scheme_id: int) -> MarkScheme:
    return found(_schemes().filter(pk=scheme_id).first(), "mark scheme")


def _answer(scheme: MarkScheme, status_code: int = status.HTTP_200_OK):
    return ok(MarkSchemeSerializer(_get_scheme(scheme.pk)).data, status_code)


class ReadForMembersWriteForAdmins:
    """Members read; only owners and admins (and super admins) change anything."""

    def get_permissions(self):
        if self.request is not None and self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsOrganizationMember()]
        return [IsOrganizationAdmin()]


class MarkSchemeQuery(PageQuery):
    standard = serializers.IntegerField(required=False, min_value=STANDARD_IDS.start, max_value=STANDARD_IDS.stop - 1)
    state = serializers.ChoiceField(required=False, choices=SchemeState.values)


MarkSchemePage = page_serializer("mark_schemes", MarkSchemeSerializer, "MarkSchemeList")


class MarkSchemeListView(ReadForMembersWriteForAdmins, APIView):
    @extend_schema(
        summary="List mark schemes",
        operation_id="mark_schemes_list",
        description="Every version of the organization's mark schemes, by standard, title and newest version first. "
        "Grading uses the published version (a draft never marks anything).",
        parameters=[MarkSchemeQuery],
        responses={200: MarkSchemePage},
        tags=TAGS,
    )
    def get(self, request):
        query = MarkSchemeQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        schemes = _schemes()
        for field in ("standard", "state"):
            if params.get(field) is not None:
                schemes = schemes.filter(**{field: params[field]})
        return ok(paged(schemes, params, MarkSchemeSerializer, "mark_schemes"))

    @extend_schema(
        summary="Create a mark scheme (a draft)",
        description="Owners and admins. The scheme is saved as version 1, a draft: nothing is graded with it until "
        "it is published. A scheme needs at least one question; each question's maximum is more than 0 and at most "
        "100 (half marks allowed), its number is unique, and its marking points' marks add up to at least the "
        "maximum. A broken rule answers 400 with a sentence and the field it is about.",
        request=MarkSchemeWriteSerializer,
        responses={
            201: MarkSchemeSerializer,
            400: error_response("VALIDATION_ERROR", examples={"VALIDATION_ERROR": BAD_SCHEME}),
        },
        examples=[
            OpenApiExample("A one-question scheme", value=EXAMPLE_BODY, request_only=True),
            OpenApiExample("The draft", value=EXAMPLE_SCHEME, response_only=True, status_codes=["201"]),
        ],
        tags=TAGS,
    )
    def post(self, request):
        try:
            scheme = create_draft(scheme_input(request.data), created_by=request.user.email)
        except SchemeError as error:
            raise _bad_scheme(error)
        return _answer(scheme, status.HTTP_201_CREATED)


class MarkSchemeDetailView(ReadForMembersWriteForAdmins, APIView):
    @extend_schema(
        summary="Get a mark scheme",
        description="One version of a mark scheme, with its questions and marking points.",
        responses={200: MarkSchemeSerializer},
        examples=[OpenApiExample("A draft", value=EXAMPLE_SCHEME, response_only=True)],
        tags=TAGS,
    )
    def get(self, request, scheme_id: int):
        return ok(MarkSchemeSerializer(_get_scheme(scheme_id)).data)

    @extend_schema(
        summary="Edit a mark scheme",
        description="Owners and admins. Send any of standard, title and questions (questions replace the scheme's "
        "questions as a whole; other fields are ignored). A draft is changed in place (200). A published or "
        "archived version is never changed: its next version is created as a draft holding the edits (201), and "
        "results already marked keep the version they were marked with. If the scheme already has a draft, the "
        "answer is 409 DRAFT_EXISTS naming it: edit that draft instead.",
        request=MarkSchemeWriteSerializer,
        responses={
            200: MarkSchemeSerializer,
            201: MarkSchemeSerializer,
            400: error_response("VALIDATION_ERROR", examples={"VALIDATION_ERROR": BAD_SCHEME}),
            409: error_response("DRAFT_EXISTS"),
        },
        tags=TAGS,
    )
    def patch(self, request, scheme_id: int):
        scheme = _get_scheme(scheme_id)
        try:
            draft = update_draft(scheme, scheme_input(request.data, scheme_data(scheme)), by=request.user.email)
        except SchemeError as error:
            existing = None
            if error.field == "state":
                existing = MarkScheme.objects.filter(key=scheme.key, state=SchemeState.DRAFT).first()
            if existing is not None:
                raise ApiError(
                    error.message,
                    code="DRAFT_EXISTS",
                    status_code=409,
                    details={"draft_id": existing.pk, "version": existing.version},
                )
            raise _bad_scheme(error)
        return _answer(draft, status.HTTP_200_OK if draft.pk == scheme.pk else status.HTTP_201_CREATED)


class MarkSchemePublishView(APIView):
    permission_classes = [IsOrganizationAdmin]

    @extend_schema(
        summary="Publish a draft mark scheme",
        description="Owners and admins. The draft becomes the scheme's published version and the previous published "
        "version is archived. Grading started before keeps the version it was given.",
        request=None,
        responses={200: MarkSchemeSerializer, 409: error_response("SCHEME_NOT_DRAFT")},
        tags=TAGS,
    )
    def post(self, request, scheme_id: int):
        scheme = _get_scheme(scheme_id)
        try:
            published = publish(scheme, by=request.user.email)
        except SchemeError as error:
            if error.field == "state":
                raise ApiError(error.message, code="SCHEME_NOT_DRAFT", status_code=409, details={"state": scheme.state})
            raise _bad_scheme(error)
        return _answer(published)
