"""``POST /api/v1/mark-schemes/import``: a blank quiz or mark-scheme document becomes a draft scheme, read by a
background job (:mod:`markschemes.importing`). Owners and admins; the file counts as an upload."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.views import APIView

from grading.upload_limits import refuse_oversized_upload
from grading.uploads import check_files
from integrations import docs
from integrations.schema import error_response
from jobs.serializers import accepted_body
from markschemes.importing import start_import
from markschemes.services import SchemeError
from quizmarker.api import ApiError, IsOrganizationAdmin, ok
from quizmarker.throttles import UploadThrottle

IMPORT_SECONDS_PER_FILE = 20


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The quiz or mark scheme: a PDF (typed or scanned) or a photo.")
    standard = serializers.IntegerField(required=False, help_text="The standard the scheme marks, 1–15; or…")
    subject = serializers.IntegerField(required=False, help_text="…one of your own subjects' id.")
    title = serializers.CharField(required=False, help_text="The draft's title; else the document's own.")

    class Meta:
        ref_name = "MarkSchemeImport"


def _whole_number(request, field: str):
    value = request.data.get(field)
    if value in (None, ""):
        return None
    if not str(value).strip().isdigit():
        raise ApiError(
            f"The {field} must be a whole number.",
            code="VALIDATION_ERROR",
            status_code=400,
            details={field: ["A number."]},
        )
    return int(value)


class MarkSchemeImportView(APIView):
    permission_classes = [IsOrganizationAdmin]
    throttle_classes = [UploadThrottle]

    @extend_schema(
        summary="Import a mark scheme from a document",
        description="Owners and admins. Send a blank quiz or a mark-scheme document (multipart file) and the standard "
        "or own subject it is for. A background job reads it (a typed PDF from its text, with no AI call; a photo or "
        "scan through the AI provider) into a DRAFT scheme; its result names mark_scheme_id. Nothing is published: "
        "check, edit and publish the draft. A document with no numbered questions fails the job with a sentence "
        "(code NO_QUESTIONS) and makes no draft.",
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            202: docs.JobAcceptedSerializer,
            400: error_response("VALIDATION_ERROR"),
            413: error_response("FILE_TOO_LARGE"),
            415: error_response("UNSUPPORTED_FILE"),
        },
        tags=["mark-schemes"],
    )
    def post(self, request):
        refuse_oversized_upload(request)
        files = request.FILES.getlist("file")
        if len(files) != 1:
            raise ApiError(
                "Send the quiz or mark scheme as one file in the “file” field.",
                code="VALIDATION_ERROR",
                status_code=400,
                details={"file": ["One file."]},
            )
        standard, subject = _whole_number(request, "standard"), _whole_number(request, "subject")
        (checked,) = check_files(files)
        try:
            job = start_import(
                organization=request.organization,
                user=request.user,
                file=checked,
                standard=standard,
                subject=subject,
                title=str(request.data.get("title") or ""),
            )
        except SchemeError as error:
            raise ApiError(
                error.message, code="VALIDATION_ERROR", status_code=400, details={error.field: [error.message]}
            ) from None
        return ok(accepted_body(request, job, IMPORT_SECONDS_PER_FILE), status.HTTP_202_ACCEPTED)
