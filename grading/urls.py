"""The assessor pages inside an organization (<slug>.<BASE_DOMAIN>)."""

from django.urls import path

from grading.views import dashboard, jobs, results, review, scripts, students, submissions, uploads
from jobs import streams

app_name = "grading"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("upload/", uploads.upload, name="upload"),
    path("review/", results.review_queue, name="review-queue"),
    path("submissions/", submissions.submission_list, name="submission-list"),
    path("submissions/export.csv", submissions.export_csv, name="submission-export"),
    path("submissions/<uuid:submission_id>/", results.submission_detail, name="submission-detail"),
    path("submissions/<uuid:submission_id>/review/", review.review, name="submission-review"),
    path("submissions/<uuid:submission_id>/pages/<int:number>/", review.page_image, name="page-image"),
    path("submissions/<uuid:submission_id>/scripts/", scripts.edit_scripts, name="script-edit"),
    path(
        "submissions/<uuid:submission_id>/questions/<int:number>/override/",
        results.override,
        name="question-override",
    ),
    path("analytics/", submissions.analytics_overview, name="analytics"),
    path("analytics/standard-<int:standard>/", submissions.analytics_standard, name="analytics-standard"),
    path("students/", students.student_list, name="student-list"),
    path("students/<int:student_id>/", students.student_detail, name="student-detail"),
    path("sessions/", jobs.session_list, name="session-list"),
    path("sessions/<uuid:session_id>/", jobs.session_detail, name="session-detail"),
    path("sessions/<uuid:session_id>/events", streams.page_session_events, name="session-events"),
    path("jobs/", jobs.job_list, name="job-list"),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/events", streams.page_job_events, name="job-events"),
    path("jobs/<uuid:job_id>/card/", jobs.job_card, name="job-card"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("jobs/<uuid:job_id>/retry/", jobs.job_retry, name="job-retry"),
]
