"""Which organization a request addresses, and whether the signed-in user may see it."""

from __future__ import annotations

import copy
import time

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseNotFound, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model

from organizations.services import audit_outsider_access, membership_for
from quizmarker.schemas import in_schema

# Paths inside an organization's host that do their own access control (or need none).
_OPEN_PREFIXES = ("/accounts/", "/health", "/static/", "/api/", "/invitations/", "/favicon.ico")


# host name → (organization, when it was read). Every request needs it, so it is kept in this process for a few
# seconds; saving an organization or domain here clears it, and other processes see the change within the TTL.
_TENANTS: dict[str, tuple[object, float]] = {}


def forget_tenants(**kwargs) -> None:
    _TENANTS.clear()


class OrganizationRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' host → schema routing; the bare domain serves the public site, unknown hosts a clear 404."""

    def get_tenant(self, domain_model, hostname):
        cached = _TENANTS.get(hostname)
        now = time.monotonic()
        if cached is not None and now - cached[1] < settings.TENANT_CACHE_SECONDS:
            return copy.copy(cached[0])
        with in_schema(get_public_schema_name()):  # domains live in the public schema
            tenant = super().get_tenant(domain_model, hostname)
        _TENANTS[hostname] = (tenant, now)
        return copy.copy(tenant)

    def no_tenant_found(self, request, hostname):
        if hostname in settings.PUBLIC_HOSTS or (settings.TESTING and hostname == "testserver"):
            request.organization = None
            self.setup_url_routing(request=request, force_public=True)
            return None
        return render(request, "errors/no_organization.html", {"hostname": hostname}, status=404)

    def process_request(self, request):
        """django-tenants' own steps, except that a connection already on the organization's schema stays on it.

        django-tenants switches the connection to `public` for the host lookup and then to the organization, and
        each switch makes the next statement a `SET search_path`, even when the connection already had that path
        from its previous request. Here the host lookup (usually answered from this process's cache) switches only
        when it reads the database, and the organization is set only when the connection is on another schema.
        """
        request.organization = None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        domain_model = get_tenant_domain_model()
        try:
            tenant = self.get_tenant(domain_model, hostname)
        except domain_model.DoesNotExist:
            if connection.schema_name != get_public_schema_name():
                connection.set_schema_to_public()
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant
        if connection.schema_name != tenant.schema_name or not connection.include_public_schema:
            connection.set_tenant(tenant)
        self.setup_url_routing(request)
        request.organization = tenant if tenant.schema_name != get_public_schema_name() else None
        return None


class OrganizationAccessMiddleware:
    """Pages of an organization are for its members (and super admins); everyone else gets a clear answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        organization = getattr(request, "organization", None)
        request.membership = None
        if organization is None or connection.schema_name == get_public_schema_name():
            return self.get_response(request)
        if request.path.startswith(_OPEN_PREFIXES):
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not organization.is_active and not request.user.is_superuser:
            return render(request, "errors/organization_inactive.html", status=403)
        request.membership = membership_for(request.user, organization)
        if request.membership is None and not request.user.is_superuser:
            return render(request, "errors/not_a_member.html", status=403)
        audit_outsider_access(request, organization, "its site", request.membership)
        return self.get_response(request)


# Paths a staff member without a second factor may still open: signing in and out, enrolling, static files, health.
_ENROLMENT_PREFIXES = ("/accounts/", "/static/", "/health", "/favicon.ico")


class StaffTwoFactorMiddleware:
    """Staff and super admins (who can open every organization) use the site only once they have enrolled an
    authenticator app (TOTP); until then every page sends them to enrol. Enrolled, allauth asks for a code at every
    sign-in — the admin's own login page sends people to allauth's (quizmarker/urls_public.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and (user.is_staff or user.is_superuser)
            and not request.path.startswith(_ENROLMENT_PREFIXES)
            and not has_second_factor(user)
        ):
            message = "Staff and super admins must set up two-factor sign-in (an authenticator app) first."
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"success": False, "error": message, "code": "PERMISSION_DENIED", "details": {}}, status=403
                )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


def has_second_factor(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP])
