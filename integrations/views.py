"""Pages for integrators on an organization's host: my API tokens, the organization's webhooks, the API docs."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from integrations import addresses, endpoints, tokens, webhook_events
from integrations.delivery import redeliver
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from organizations import permissions
from organizations.services import EmailNotVerified, require_verified_email

# --- Tokens --------------------------------------------------------------------------------------------


def _tokens_page(request, new_key: str | None = None, new_token=None, status: int = 200):
    return render(
        request,
        "integrations/tokens.html",
        {
            "tokens": tokens.tokens_of(request.user),
            "new_key": new_key,
            "new_token": new_token,
            "api_base": request.build_absolute_uri("/api/v1/"),
        },
        status=status,
    )


@login_required
def token_list(request):
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name:
            messages.error(request, "Give the token a name, so you recognise it later.")
            return _tokens_page(request, status=400)
        try:
            require_verified_email(request.user, "create API tokens")
        except EmailNotVerified as exc:
            messages.error(request, str(exc))
            return _tokens_page(request, status=403)
        if tokens.too_many_tokens(request.user):
            messages.error(request, "You have too many active tokens; revoke some first.")
            return _tokens_page(request, status=400)
        token, key = tokens.create_token(request.user, name, request.organization)
        # Rendered, not redirected: the key exists only in this response.
        return _tokens_page(request, new_key=key, new_token=token, status=201)
    return _tokens_page(request)


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = tokens.tokens_of(request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404("You have no active token with that id.")
    tokens.revoke_token(token)
    messages.success(request, f"Revoked “{token.name}”. It no longer works.")
    return redirect("integrations:tokens")


# --- Webhooks ------------------------------------------------------------------------------------------


class EndpointForm(forms.Form):
    url = forms.CharField(label="Address (URL)", max_length=500, help_text="Where we POST events; https://.")
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, initial=WebhookEvent.values
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def clean_url(self):
        return addresses.validate_url(self.cleaned_data["url"])


def _require_admin(request) -> None:
    if not permissions.manages(request.user, request.membership):
        raise PermissionDenied("Only the organization's owners and admins manage webhooks.")


def _endpoint(request, endpoint_id) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(organization=request.organization, pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No webhook endpoint with that id in this organization.")
    return endpoint


def _webhooks_page(request, form=None, secret=None, callback_secret=None, status=200):
    registered = WebhookEndpoint.objects.filter(organization=request.organization)
    return render(
        request,
        "integrations/webhooks.html",
        {
            "endpoints": registered,
            "form": form or EndpointForm(),
            "callback_secret": callback_secret,
            "has_callback_secret": hasattr(request.organization, "callback_secret"),
            "events": WebhookEvent.choices,
        },
        status=status,
    )


@login_required
def webhook_list(request):
    _require_admin(request)
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return _webhooks_page(request, form=form, status=400)
        try:
            endpoint = endpoints.create_endpoint(
                organization=request.organization,
                user=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return _webhooks_page(request, form=form, status=400)
        return _detail_page(request, endpoint, secret=endpoint.secret, status=201)
    return _webhooks_page(request)


@login_required
@require_POST
def callback_secret_rotate(request):
    _require_admin(request)
    secret = endpoints.rotate_callback_secret(request.organization)
    return _webhooks_page(request, callback_secret=secret)


def _detail_page(request, endpoint, secret=None, form=None, status=200):
    deliveries = endpoint.deliveries.order_by("-created_at")[:50]
    return render(
        request,
        "integrations/webhook_detail.html",
        {
            "endpoint": endpoint,
            "secret": secret,
            "deliveries": deliveries,
            "form": form
            or EndpointForm(
                initial={
                    "url": endpoint.url,
                    "description": endpoint.description,
                    "events": endpoint.events,
                    "is_active": endpoint.is_active,
                }
            ),
        },
        status=status,
    )


@login_required
def webhook_detail(request, endpoint_id):
    _require_admin(request)
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return _detail_page(request, endpoint, form=form, status=400)
        for field in ("url", "description", "events", "is_active"):
            setattr(endpoint, field, form.cleaned_data[field])
        endpoint.save()
        messages.success(request, "Saved.")
        return redirect("integrations:webhook-detail", endpoint.pk)
    return _detail_page(request, endpoint)


@login_required
@require_POST
def webhook_rotate(request, endpoint_id):
    _require_admin(request)
    endpoint = _endpoint(request, endpoint_id)
    secret = endpoints.rotate_secret(endpoint)
    return _detail_page(request, endpoint, secret=secret)


@login_required
@require_POST
def webhook_test(request, endpoint_id):
    _require_admin(request)
    endpoint = _endpoint(request, endpoint_id)
    webhook_events.send_test_event(endpoint)
    messages.success(request, "A test event is on its way; its outcome appears in the log below.")
    return redirect("integrations:webhook-detail", endpoint.pk)


@login_required
@require_POST
def webhook_delete(request, endpoint_id):
    _require_admin(request)
    endpoint = _endpoint(request, endpoint_id)
    endpoint.delete()
    messages.success(request, f"Deleted the endpoint {endpoint.url}.")
    return redirect("integrations:webhooks")


@login_required
@require_POST
def delivery_redeliver(request, delivery_id):
    _require_admin(request)
    delivery = WebhookDelivery.objects.filter(organization=request.organization, pk=delivery_id).first()
    if delivery is None or delivery.endpoint_id is None:
        raise Http404("No webhook delivery with that id in this organization.")
    redeliver(delivery)
    messages.success(request, "Sending it again.")
    return redirect("integrations:webhook-detail", delivery.endpoint_id)
