from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render

from organizations.models import Organization
from organizations.services import membership_for, organizations_of

HANDOFF_SALT = "quizmarker.handoff"
HANDOFF_MAX_AGE = 60


def landing(request):
    """The bare domain: what QuizMarker is, or — once signed in — the organizations you can open."""
    context = {"organizations": organizations_of(request.user)}
    if request.user.is_authenticated and request.user.is_superuser:
        context["all_organizations"] = Organization.objects.filter(is_active=True).order_by("name")
    return render(request, "public/landing.html", context)


@login_required
def open_organization(request, slug: str):
    """Carry the signed-in user over to the organization's own host with a one-time, one-minute token (sessions are
    per host, so this saves signing in twice)."""
    organization = get_object_or_404(Organization, slug=slug, is_active=True)
    if membership_for(request.user, organization) is None and not request.user.is_superuser:
        messages.error(request, f"You are not a member of {organization.name}.")
        return redirect("landing")
    token = signing.dumps(
        {"user": request.user.pk, "org": organization.slug, "nonce": secrets.token_urlsafe(12)}, salt=HANDOFF_SALT
    )
    return HttpResponseRedirect(organization.url(f"/accounts/handoff/?token={token}"))


def accept_handoff(request):
    organization = request.organization
    try:
        payload = signing.loads(request.GET.get("token", ""), salt=HANDOFF_SALT, max_age=HANDOFF_MAX_AGE)
    except signing.BadSignature:
        messages.error(request, "That sign-in link has expired or is not valid; please sign in here.")
        return redirect("account_login")
    if payload.get("org") != organization.slug or not cache.add(f"handoff:{payload['nonce']}", 1, HANDOFF_MAX_AGE * 2):
        messages.error(request, "That sign-in link has already been used; please sign in here.")
        return redirect("account_login")
    user = get_user_model().objects.filter(pk=payload["user"], is_active=True).first()
    if user is None:
        return redirect("account_login")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("dashboard")
