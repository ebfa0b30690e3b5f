"""URLs of the bare domain: landing page, accounts, the admin console and health."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path

from organizations import views as org_views
from organizations.dashboard import admin_dashboard
from quizmarker.api import api_not_found
from quizmarker.health import health, ready
from quizmarker.metrics import metrics_view

# The admin's own login form checks passwords with no rate limit and no second factor: send it to allauth's sign-in,
# which has both (ACCOUNT_RATE_LIMITS; the TOTP stage for enrolled users), and back to the admin afterwards.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", org_views.landing, name="landing"),
    path("go/<slug:slug>/", org_views.open_organization, name="open_organization"),
    path("accounts/", include("allauth.urls")),
    path("admin/dashboard/", admin.site.admin_view(admin_dashboard), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("health/ready", ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^api/", api_not_found),
]
