"""API v1 routes inside an organization."""

from django.urls import path

from grading import api as grading_api
from grading import script_api
from integrations import api as integrations_api
from jobs import api as jobs_api
from jobs import streams
from markschemes import api as markschemes_api
from markschemes import import_api, subjects_api
from organizations import api as organizations_api

urlpatterns = [
    path("schema", integrations_api.SchemaView.as_view(), name="api-schema"),
    path("docs", integrations_api.docs_view, name="api-docs"),
    path("tokens", integrations_api.TokenListView.as_view(), name="api-token-list"),
    path("tokens/<int:token_id>", integrations_api.TokenDetailView.as_view(), name="api-token-detail"),
    path("webhooks", integrations_api.WebhookListView.as_view(), name="api-webhook-list"),
    path("webhooks/callback-secret", integrations_api.CallbackSecretView.as_view(), name="api-callback-secret"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/redeliver",
        integrations_api.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
    path("webhooks/<uuid:endpoint_id>", integrations_api.WebhookDetailView.as_view(), name="api-webhook-detail"),
    path(
        "webhooks/<uuid:endpoint_id>/rotate-secret",
        integrations_api.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path("webhooks/<uuid:endpoint_id>/test", integrations_api.WebhookTestView.as_view(), name="api-webhook-test"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries",
        integrations_api.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path("upload", grading_api.UploadView.as_view(), name="api-upload"),
    path("grade", grading_api.GradeView.as_view(), name="api-grade"),
    path("standards", grading_api.StandardsView.as_view(), name="api-standards"),
    path("submissions", grading_api.SubmissionListView.as_view(), name="api-submission-list"),
    path("submissions/<uuid:submission_id>", grading_api.SubmissionDetailView.as_view(), name="api-submission-detail"),
    path("submissions/<uuid:submission_id>/split", script_api.SplitView.as_view(), name="api-submission-split"),
    path("submissions/<uuid:submission_id>/move-pages", script_api.MovePagesView.as_view(), name="api-submission-move"),
    path("submissions/<uuid:submission_id>/merge", script_api.MergeView.as_view(), name="api-submission-merge"),
    path(
        "submissions/<uuid:submission_id>/questions/<int:number>",
        grading_api.QuestionOverrideView.as_view(),
        name="api-question-override",
    ),
    path("subjects", subjects_api.SubjectListView.as_view(), name="api-subject-list"),
    path("subjects/<int:subject_id>", subjects_api.SubjectDetailView.as_view(), name="api-subject-detail"),
    path("mark-schemes", markschemes_api.MarkSchemeListView.as_view(), name="api-mark-scheme-list"),
    path("mark-schemes/import", import_api.MarkSchemeImportView.as_view(), name="api-mark-scheme-import"),
    path("mark-schemes/<int:scheme_id>", markschemes_api.MarkSchemeDetailView.as_view(), name="api-mark-scheme-detail"),
    path(
        "mark-schemes/<int:scheme_id>/publish",
        markschemes_api.MarkSchemePublishView.as_view(),
        name="api-mark-scheme-publish",
    ),
    path("students", grading_api.StudentListView.as_view(), name="api-student-list"),
    path("students/<int:student_id>", grading_api.StudentDetailView.as_view(), name="api-student-detail"),
    path("sessions", jobs_api.SessionListView.as_view(), name="api-session-list"),
    path("sessions/<uuid:session_id>", jobs_api.SessionDetailView.as_view(), name="api-session-detail"),
    path("sessions/<uuid:session_id>/events", streams.api_session_events, name="api-session-events"),
    path("jobs", jobs_api.JobListView.as_view(), name="api-job-list"),
    path("jobs/stats", jobs_api.JobStatsView.as_view(), name="api-job-stats"),
    path("jobs/<uuid:job_id>", jobs_api.JobDetailView.as_view(), name="api-job-detail"),
    path("jobs/<uuid:job_id>/result", jobs_api.JobResultView.as_view(), name="api-job-result"),
    path("jobs/<uuid:job_id>/events", streams.api_job_events, name="api-job-events"),
    path("organizations", organizations_api.OrganizationListView.as_view(), name="api-organization-list"),
    path(
        "organizations/<int:organization_id>",
        organizations_api.OrganizationDetailView.as_view(),
        name="api-organization-detail",
    ),
    path(
        "organizations/<int:organization_id>/members",
        organizations_api.MemberListView.as_view(),
        name="api-member-list",
    ),
    path(
        "organizations/<int:organization_id>/members/<int:user_id>",
        organizations_api.MemberDetailView.as_view(),
        name="api-member-detail",
    ),
]
