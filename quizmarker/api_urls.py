"""API v1 routes inside an organization."""

from django.urls import path

from grading import api as grading_api
from jobs import api as jobs_api

urlpatterns = [
    path("upload", grading_api.UploadView.as_view(), name="api-upload"),
    path("grade", grading_api.GradeView.as_view(), name="api-grade"),
    path("standards", grading_api.StandardsView.as_view(), name="api-standards"),
    path("submissions", grading_api.SubmissionListView.as_view(), name="api-submission-list"),
    path("submissions/<uuid:submission_id>", grading_api.SubmissionDetailView.as_view(), name="api-submission-detail"),
    path(
        "submissions/<uuid:submission_id>/questions/<int:number>",
        grading_api.QuestionOverrideView.as_view(),
        name="api-question-override",
    ),
    path("students", grading_api.StudentListView.as_view(), name="api-student-list"),
    path("students/<int:student_id>", grading_api.StudentDetailView.as_view(), name="api-student-detail"),
    path("sessions", jobs_api.SessionListView.as_view(), name="api-session-list"),
    path("sessions/<uuid:session_id>", jobs_api.SessionDetailView.as_view(), name="api-session-detail"),
    path("jobs", jobs_api.JobListView.as_view(), name="api-job-list"),
    path("jobs/stats", jobs_api.JobStatsView.as_view(), name="api-job-stats"),
    path("jobs/<uuid:job_id>", jobs_api.JobDetailView.as_view(), name="api-job-detail"),
    path("jobs/<uuid:job_id>/result", jobs_api.JobResultView.as_view(), name="api-job-result"),
]
