"""Grading endpoints of API v1: upload, grade, standards, submissions and students (see shared api-contract)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.views import APIView

from grading.api_lookups import submission_or_404, submissions_with_questions
from grading.corrections import MAX_FROM_SCHEME, override_score
from grading.models import Student
from grading.serializers import (
    GradeRequestSerializer,
    StudentSerializer,
    SubmissionDetailSerializer,
    SubmissionSerializer,
    UploadFieldsSerializer,
)
from grading.services import (
    SECONDS_PER_SCRIPT,
    accept_upload,
    estimated_seconds,
    start_grading,
    submissions_for_grading,
)
from grading.standards import discover
from grading.upload_limits import refuse_oversized_upload
from grading.uploads import check_files
from integrations import docs
from integrations.endpoints import attach_callback
from integrations.schema import error_response
from jobs.models import GradingSession, Priority
from jobs.serializers import accepted_body
from organizations import permissions
from quizmarker.api import ApiError, PageQuery, denied, ok, page_serializer, paged
from quizmarker.errors import found
from quizmarker.throttles import GradeThrottle, UploadThrottle


def asked_priority(request) -> str:
    """The ``priority`` a request asks for, checked before its other fields: a value other than normal or high is a
    400 naming the field, and high from anyone but an owner or admin a 403 (organizations.permissions decides)."""
    if not isinstance(request.data, Mapping):  # a body that is no JSON object: the request's serializer says so next
        return Priority.NORMAL
    value = request.data.get("priority", Priority.NORMAL)
    if value not in Priority.values:
        raise ApiError(
            f'priority must be "normal" or "high", not {str(value)[:40]!r}.',
            code="VALIDATION_ERROR",
            status_code=400,
            details={"priority": ['Send "normal" or "high", or leave it out (normal).']},
        )
    if value == Priority.HIGH and not permissions.may_ask_high_priority(request.user, request.membership):
        raise denied(
            'Only the organization\'s owners and admins can ask for high priority; send priority "normal" or '
            "leave it out."
        )
    return value


class UploadView(APIView):
    throttle_classes = [UploadThrottle]

    @extend_schema(
        summary="Upload answer sheets",
        description="Stores the files and starts an extraction job that reads them into submissions (one per "
        "learner's script). Throttled to 20 an hour per user. Wait for the job (poll it, or a webhook), then grade; "
        "or send grade=true and the scripts are graded as soon as they are read (the job's result names the "
        "grading job).",
        request={"multipart/form-data": docs.UploadRequestSerializer},
        responses={
            202: docs.JobAcceptedSerializer,
            403: error_response("PERMISSION_DENIED", "BUDGET_EXCEEDED"),
            413: error_response("FILE_TOO_LARGE"),
            415: error_response("UNSUPPORTED_FILE"),
        },
        examples=[docs.ACCEPTED_EXAMPLE],
        tags=["grading"],
    )
    def post(self, request):
        refuse_oversized_upload(request)
        priority = asked_priority(request)
        fields = UploadFieldsSerializer(data={k: v for k, v in request.data.items() if k != "files"})
        fields.is_valid(raise_exception=True)
        session = None
        if fields.validated_data.get("session_id"):
            session = found(
                GradingSession.objects.filter(
                    pk=fields.validated_data["session_id"], organization=request.organization
                ).first(),
                "grading session",
            )
        files = check_files(request.FILES.getlist("files"))
        with transaction.atomic():  # the job is published once its callback_url is stored with it
            job = accept_upload(
                organization=request.organization,
                user=request.user,
                files=files,
                session=session,
                standard_id=fields.validated_data.get("standard_id"),
                mark_scheme_id=fields.validated_data.get("mark_scheme_id"),
                session_label=fields.validated_data.get("session_label", ""),
                grade=fields.validated_data["grade"],
                priority=priority,
            )
            attach_callback(job, fields.validated_data.get("callback_url"))
        return ok(accepted_body(request, job, estimated_seconds(job)), status.HTTP_202_ACCEPTED)


class GradeView(APIView):
    throttle_classes = [GradeThrottle]

    @extend_schema(
        summary="Grade uploaded scripts",
        description="Starts a grading job for the scripts of a completed upload job (or one submission). Its "
        "result lists each submission's total, maximum, percentage and how many answers need a person's review. "
        "Throttled to 15 an hour per user.",
        request=GradeRequestSerializer,
        responses={
            202: docs.JobAcceptedSerializer,
            403: error_response("PLAN_LIMIT_EXCEEDED", "BUDGET_EXCEEDED", "PERMISSION_DENIED"),
            409: error_response("JOB_NOT_COMPLETED", "JOB_ALREADY_RUNNING"),
        },
        examples=[
            OpenApiExample(
                "Grade an upload", value={"upload_job_id": docs.JOB_ID, "standard_id": 3}, request_only=True
            ),
            docs.ACCEPTED_EXAMPLE,
        ],
        tags=["grading"],
    )
    def post(self, request):
        priority = asked_priority(request)
        body = GradeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        submissions = submissions_for_grading(
            request.organization, upload_job_id=data.get("upload_job_id"), submission_id=data.get("submission_id")
        )
        with transaction.atomic():  # the job is published once its callback_url is stored with it
            job = start_grading(
                organization=request.organization,
                user=request.user,
                submissions=submissions,
                standard_id=data.get("standard_id"),
                mark_scheme_id=data.get("mark_scheme_id"),
                priority=priority,
            )
            attach_callback(job, data.get("callback_url"))
        return ok(accepted_body(request, job, len(submissions) * SECONDS_PER_SCRIPT), status.HTTP_202_ACCEPTED)


class StandardsView(APIView):
    @extend_schema(
        summary="List the standards",
        description="The Care Certificate standards QuizMarker can grade against (from its reference library).",
        responses={200: docs.StandardSerializer(many=True)},
        tags=["grading"],
    )
    def get(self, request):
        return ok([standard.as_dict() for standard in discover()])


class SubmissionQuery(PageQuery):
    standard = serializers.IntegerField(required=False, min_value=1, max_value=99)
    student = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(
        required=False, choices=["extracting", "extracted", "grading", "graded", "needs_review", "reviewed"]
    )
    needs_review = serializers.BooleanField(required=False, allow_null=True, default=None)
    upload_job_id = serializers.UUIDField(required=False)


class SubmissionListView(APIView):
    @extend_schema(
        summary="List submissions",
        operation_id="submissions_list",
        parameters=[SubmissionQuery],
        responses={200: page_serializer("submissions", SubmissionSerializer, "SubmissionList")},
        tags=["submissions"],
    )
    def get(self, request):
        query = SubmissionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        submissions = submissions_with_questions().order_by("-created_at")
        for field, lookup in (
            ("standard", "standard"),
            ("student", "student_id"),
            ("status", "status"),
            ("upload_job_id", "upload_job_id"),
        ):
            if params.get(field) is not None:
                submissions = submissions.filter(**{lookup: params[field]})
        if params.get("needs_review") is not None:
            flagged = Q(questions__needs_review=True, questions__final_score__isnull=True)
            submissions = submissions.filter(flagged) if params["needs_review"] else submissions.exclude(flagged)
            submissions = submissions.distinct()
        return ok(paged(submissions, params, SubmissionSerializer, "submissions"))


class SubmissionDetailView(APIView):
    @extend_schema(
        summary="Get a submission with its questions",
        responses={200: SubmissionDetailSerializer},
        tags=["submissions"],
    )
    def get(self, request, submission_id):
        return ok(SubmissionDetailSerializer(submission_or_404(submission_id)).data)


class PointTickSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The marking point's id (from the mark scheme).")
    met = serializers.BooleanField(help_text="Whether the answer meets it, in the assessor's judgement.")


class OverrideSerializer(serializers.Serializer):
    score = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    feedback = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    points = PointTickSerializer(
        many=True,
        required=False,
        help_text="Tick or untick marking points; unless a score is given, the score follows the met points.",
    )
    reason = serializers.CharField(max_length=500)


class QuestionOverrideView(APIView):
    @extend_schema(
        summary="Set a question's final score or feedback, or tick its marking points",
        description="An assessor's decision; the AI's score and point decisions are kept and the change is audited. "
        "Ticking or unticking marking points (points: [{id, met}]) makes the score the sum of the met points' marks, "
        "capped at the maximum, unless a score is given too. A max_score is refused (400): the maximum comes only "
        "from the mark scheme. Emits the submission.reviewed webhook.",
        request=OverrideSerializer,
        responses={200: SubmissionDetailSerializer},
        tags=["submissions"],
    )
    def patch(self, request, submission_id, number: int):
        submission = submission_or_404(submission_id)
        question = submission.questions.filter(number=number).first()
        if question is None:
            raise ApiError(f"The submission has no question {number}.", code="NOT_FOUND", status_code=404)
        if "max_score" in request.data:
            raise ApiError(
                MAX_FROM_SCHEME, code="VALIDATION_ERROR", status_code=400, details={"max_score": [MAX_FROM_SCHEME]}
            )
        body = OverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        override_score(
            question,
            by=request.user.email,
            score=data.get("score"),
            feedback=data.get("feedback"),
            reason=data["reason"],
            points={tick["id"]: tick["met"] for tick in data.get("points", [])},
        )
        return ok(SubmissionDetailSerializer(submission_or_404(submission_id)).data)


class StudentQuery(PageQuery):
    search = serializers.CharField(required=False, max_length=100)


class StudentListView(APIView):
    @extend_schema(
        summary="List students",
        operation_id="students_list",
        parameters=[StudentQuery],
        responses={200: page_serializer("students", StudentSerializer, "StudentList")},
        tags=["students"],
    )
    def get(self, request):
        query = StudentQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        students = Student.objects.order_by("full_name")
        if query.validated_data.get("search"):
            students = students.filter(full_name__icontains=query.validated_data["search"])
        return ok(paged(students, query.validated_data, StudentSerializer, "students"))


class StudentDetailView(APIView):
    @extend_schema(
        summary="Get a student with their submissions",
        responses={200: docs.StudentDetailSerializer},
        tags=["students"],
    )
    def get(self, request, student_id: int):
        student = found(Student.objects.filter(pk=student_id).first(), "student")
        submissions = submissions_with_questions().filter(student=student).order_by("-created_at")
        return ok({**StudentSerializer(student).data, "submissions": SubmissionSerializer(submissions, many=True).data})
