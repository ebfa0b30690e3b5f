"""API v1 routes inside an organization."""

from django.urls import path

from jobs import api as jobs_api

urlpatterns = [
    path("jobs", jobs_api.JobListView.as_view(), name="api-job-list"),
    path("jobs/stats", jobs_api.JobStatsView.as_view(), name="api-job-stats"),
    path("jobs/<uuid:job_id>", jobs_api.JobDetailView.as_view(), name="api-job-detail"),
    path("jobs/<uuid:job_id>/result", jobs_api.JobResultView.as_view(), name="api-job-result"),
]
