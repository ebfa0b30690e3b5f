"""Job endpoints of API v1 (see shared api-contract)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from integrations import docs
from integrations.schema import error_response
from jobs.cancel_retry import cancel_job
from jobs.errors import not_completed
from jobs.models import JobStatus, JobType
from jobs.polling import poll
from jobs.serializers import JobSerializer
from jobs.stats import job_stats
from jobs.visibility import visible_job, visible_jobs, visible_sessions
from quizmarker.api import AddressesOrganization, ApiError, PageQuery, ok, paged
from quizmarker.errors import found


class JobQuerySerializer(PageQuery):
    status = serializers.ChoiceField(choices=JobStatus.values, required=False)
    job_type = serializers.ChoiceField(choices=JobType.values, required=False)


class JobsMixin:
    def jobs(self, request):
        return visible_jobs(request.user, request.organization, getattr(request, "membership", None))

    def get_job(self, request, job_id):
        return found(self.jobs(request).filter(pk=job_id).first(), "job")


class JobListView(JobsMixin, APIView):
    @extend_schema(
        summary="List jobs",
        operation_id="jobs_list",
        description="Your jobs (the whole organization's for owners and admins), newest first.",
        parameters=[JobQuerySerializer],
        responses={200: docs.JobListSerializer},
        tags=["jobs"],
    )
    def get(self, request):
        query = JobQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        jobs = self.jobs(request)
        if "status" in params:
            jobs = jobs.filter(status=params["status"])
        if "job_type" in params:
            jobs = jobs.filter(job_type=params["job_type"])
        return ok(paged(jobs.order_by("-created_at"), params, JobSerializer, "jobs"))


class JobDetailView(JobsMixin, APIView):
    throttle_classes: list = []  # clients poll it every 2 s

    polled = None

    def perform_authentication(self, request):
        # Polling is the hot path: with a token, one statement loads the token, its user, the job and the user's
        # membership, and the API's own checks decide (jobs/polling.py). Anything else — a session, a bad token, a
        # job that is not theirs — takes the ordinary path below, which gives the same answers as every endpoint.
        if request.method == "GET":
            found = poll(request._request, getattr(request, "organization", None), self.kwargs["job_id"])
            if found is not None:
                self.polled, request.user, request.auth = found
                return
        super().perform_authentication(request)

    def get_permissions(self):
        # Membership and visibility are checked with the job (jobs.visibility.visible_job, or the poll's statement).
        if self.request.method == "GET":
            return [AddressesOrganization()]
        return super().get_permissions()

    @extend_schema(
        summary="Get a job (poll it)",
        description="Never throttled: poll every 2 s until `status` is completed, failed or cancelled.",
        responses={200: docs.JobDocSerializer},
        examples=[docs.JOB_EXAMPLE],
        tags=["jobs"],
    )
    def get(self, request, job_id):
        job = found(self.polled or visible_job(request.user, request.organization, job_id), "job")
        return ok(JobSerializer(job).data)

    @extend_schema(
        summary="Cancel a job",
        description="A queued job is cancelled at once, a processing one at its next checkpoint.",
        responses={200: docs.JobDocSerializer, 409: error_response("JOB_ALREADY_FINISHED")},
        tags=["jobs"],
    )
    def delete(self, request, job_id):
        job = self.get_job(request, job_id)
        if not cancel_job(job, by=request.user):
            raise ApiError(
                f"The job has already finished ({job.status}) and cannot be cancelled.",
                code="JOB_ALREADY_FINISHED",
                status_code=409,
                details={"status": job.status},
            )
        return ok(JobSerializer(job).data)


class JobResultView(JobsMixin, APIView):
    @extend_schema(
        summary="Get a completed job's result",
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description=docs.JobDocSerializer().fields["result"].help_text),
            409: error_response("JOB_NOT_COMPLETED"),
            410: error_response("JOB_EXPIRED"),
        },
        tags=["jobs"],
    )
    def get(self, request, job_id):
        job = self.get_job(request, job_id)
        if job.files_removed_at is not None:
            raise ApiError(
                f"This job expired: its files and result were removed on {job.files_removed_at:%d %b %Y at %H:%M} UTC. "
                "The scripts and their grades are still under /api/v1/submissions.",
                code="JOB_EXPIRED",
                status_code=410,
                details={"files_removed_at": job.files_removed_at.isoformat()},
            )
        if job.status != JobStatus.COMPLETED:
            raise not_completed(job, "job", "its result is available")
        return ok(job.result)


class JobStatsQuery(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=24 * 90, default=24)


class JobStatsView(JobsMixin, APIView):
    @extend_schema(
        summary="Job statistics",
        description="Over the jobs accepted in the last `hours` (1 to 2160; job records are kept 90 days): counts by "
        "status and type, processing times (all jobs, and grading jobs alone). Now: pending and processing counts, "
        "the oldest pending job's age and the number of active sessions.",
        parameters=[JobStatsQuery],
        responses={200: docs.JobStatsSerializer},
        tags=["jobs"],
    )
    def get(self, request):
        query = JobStatsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return ok(job_stats(self.jobs(request), window_hours=query.validated_data["hours"]))


class SessionSerializer(serializers.Serializer):
    def to_representation(self, session) -> dict:
        return {
            "id": str(session.pk),
            "label": session.label,
            "status": session.status,
            "created_at": session.created_at.isoformat(),
            "jobs": JobSerializer(session.jobs.order_by("created_at"), many=True).data,
        }


def _sessions(request):
    return visible_sessions(request.user, request.organization, getattr(request, "membership", None))


class SessionListView(APIView):
    @extend_schema(
        summary="List grading sessions",
        operation_id="sessions_list",
        description="A session is a batch uploaded together, with its jobs.",
        parameters=[
            OpenApiParameter("page", int, description="Page number (from 1)."),
            OpenApiParameter("per_page", int, description="1–100, default 20."),
        ],
        responses={200: docs.SessionListSerializer},
        tags=["sessions"],
    )
    def get(self, request):
        query = PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        sessions = _sessions(request).prefetch_related("jobs").order_by("-created_at")
        return ok(paged(sessions, query.validated_data, SessionSerializer, "sessions"))


class SessionDetailView(APIView):
    @extend_schema(
        summary="Get a grading session with its log",
        responses={200: docs.SessionDetailSerializer},
        tags=["sessions"],
    )
    def get(self, request, session_id):
        session = found(_sessions(request).filter(pk=session_id).first(), "grading session")
        log = [
            {"at": e.at.isoformat(), "level": e.level, "message": e.message, "job_id": str(e.job_id)}
            for e in session.events.order_by("at", "id")
        ]
        return ok({**SessionSerializer(session).data, "log": log})
