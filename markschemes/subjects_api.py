"""``/api/v1/subjects``: what an organization can mark — the Care Certificate standards of the shipped library and
the organization's own subjects — and adding an own subject with its reference PDF (owners and admins).

``/api/v1/standards`` stays as it was (the standards alone); a standard's ``id`` (1–15) is the same in both lists
and wherever a ``standard_id`` is taken. An own subject's ``id`` is its own (``kind`` says which list it is from);
its mark schemes name it as ``subject``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.views import APIView

from grading.standards import discover
from grading.upload_limits import refuse_oversized_upload
from integrations.schema import error_response
from markschemes.api import ReadForMembersWriteForAdmins
from markschemes.models import Subject
from markschemes.subjects import SubjectError, add_subject
from quizmarker.api import ApiError, ok
from quizmarker.errors import found
from quizmarker.throttles import UploadThrottle

TAGS = ["mark-schemes"]


class SubjectSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["standard", "subject"], help_text="standard: a Care Certificate standard; subject: your own."
    )
    id = serializers.IntegerField(help_text="A standard's number (1–15), or your subject's id.")
    title = serializers.CharField()
    pages = serializers.IntegerField(help_text="Pages of its reference material.")
    reference_name = serializers.CharField(required=False, help_text="Own subjects: the reference PDF's name.")
    created_by = serializers.CharField(required=False)
    created_at = serializers.DateTimeField(required=False)

    class Meta:
        ref_name = "Subject"


class SubjectUploadSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The subject's name (at most 120 characters, unique).")
    file = serializers.FileField(help_text="Its reference material: a PDF with a text layer, at most 16 MB.")

    class Meta:
        ref_name = "SubjectUpload"


def subject_dict(subject: Subject) -> dict:
    return {
        "kind": "subject",
        "id": subject.pk,
        "title": subject.name,
        "pages": subject.pages,
        "reference_name": subject.reference_name,
        "created_by": subject.created_by,
        "created_at": subject.created_at.isoformat().replace("+00:00", "Z"),
    }


EXAMPLE = [
    {"kind": "standard", "id": 3, "title": "Duty of care", "pages": 4},
    {
        "kind": "subject",
        "id": 1,
        "title": "Fire safety",
        "pages": 2,
        "reference_name": "fire-safety.pdf",
        "created_by": "owner@demo.local",
        "created_at": "2026-12-03T12:00:00Z",
    },
]


class SubjectListView(ReadForMembersWriteForAdmins, APIView):
    def get_throttles(self):
        return [UploadThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        summary="List the subjects",
        description="Everything the organization can mark: the Care Certificate standards (kind standard, ids 1–15, "
        "as /api/v1/standards lists them) and the organization's own subjects (kind subject).",
        responses={200: SubjectSerializer(many=True)},
        examples=[OpenApiExample("Standards and an own subject", value=EXAMPLE, response_only=True)],
        tags=TAGS,
    )
    def get(self, request):
        standards = [{"kind": "standard", **standard.as_dict()} for standard in discover()]
        return ok(standards + [subject_dict(s) for s in Subject.objects.defer("reference_text")])

    @extend_schema(
        summary="Add an own subject",
        description="Owners and admins. A name and the subject's reference material as a PDF (multipart). The PDF "
        "is checked like an answer sheet and read in the file sandbox; a PDF with no text layer is refused. Then "
        "write or import its mark schemes, naming it as subject.",
        request={"multipart/form-data": SubjectUploadSerializer},
        responses={
            201: SubjectSerializer,
            400: error_response("VALIDATION_ERROR"),
            413: error_response("FILE_TOO_LARGE"),
            415: error_response("UNSUPPORTED_FILE"),
        },
        examples=[OpenApiExample("The new subject", value=EXAMPLE[1], response_only=True, status_codes=["201"])],
        tags=TAGS,
    )
    def post(self, request):
        refuse_oversized_upload(request)
        files = request.FILES.getlist("file")
        if len(files) > 1:
            raise ApiError(
                "Send one reference PDF.", code="VALIDATION_ERROR", status_code=400, details={"file": ["One file."]}
            )
        try:
            subject = add_subject(request.data.get("name"), files[0] if files else None, by=request.user.email)
        except SubjectError as error:
            raise error.kind(error.message, code=error.code, details={error.field: [error.message]}) from None
        return ok(subject_dict(subject), status.HTTP_201_CREATED)


class SubjectDetailView(APIView):
    @extend_schema(
        summary="Get an own subject",
        responses={200: SubjectSerializer, 404: error_response("NOT_FOUND")},
        tags=TAGS,
    )
    def get(self, request, subject_id: int):
        subject = found(Subject.objects.defer("reference_text").filter(pk=subject_id).first(), "subject")
        return ok(subject_dict(subject))
