"""URLs inside an organization (<slug>.<BASE_DOMAIN>)."""

from django.urls import include, path, re_path

from organizations import views as org_views
from quizmarker.api import api_not_found
from quizmarker.health import health

urlpatterns = [
    path("", org_views.dashboard, name="dashboard"),
    path("accounts/handoff/", org_views.accept_handoff, name="accept_handoff"),
    path("accounts/", include("allauth.urls")),
    path("health", health, name="health"),
    path("api/v1/", include("quizmarker.api_urls")),
    re_path(r"^api/", api_not_found),
]
