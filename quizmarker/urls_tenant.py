"""URLs inside an organization (<slug>.<BASE_DOMAIN>)."""

from django.urls import include, path, re_path

from grading.views import dashboard as grading_dashboard
from organizations import views as org_views
from quizmarker.api import api_not_found
from quizmarker.health import health, ready

urlpatterns = [
    path("", include("grading.urls")),  # the assessor pages
    path("", grading_dashboard.dashboard, name="dashboard"),  # "/" by its short name, for redirects after sign-in
    path("", include("markschemes.urls")),  # mark schemes: read by members, written by owners and admins
    path("", include("organizations.urls")),  # members, settings, invitations
    path("", include("integrations.urls")),  # API tokens, webhooks
    path("accounts/handoff/", org_views.accept_handoff, name="accept_handoff"),
    path("accounts/", include("allauth.urls")),
    path("health", health, name="health"),
    path("health/ready", ready, name="health-ready"),
    path("api/v1/", include("quizmarker.api_urls")),
    re_path(r"^api/", api_not_found),
]
