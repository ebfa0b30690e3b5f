"""API v1 endpoints for integrators: personal API tokens, webhook endpoints and their delivery logs, the schema."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import render
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from integrations import addresses, docs_page, endpoints, tokens, webhook_events
from integrations.delivery import redeliver
from integrations.models import TEST_EVENT, ApiToken, WebhookDelivery, WebhookEndpoint, WebhookEvent
from organizations.services import EmailNotVerified, require_verified_email
from quizmarker.api import (
    ApiError,
    IsOrganizationAdmin,
    IsOrganizationMember,
    PageQuery,
    denied,
    ok,
    page_serializer,
    paged,
)
from quizmarker.errors import found

# --- Tokens --------------------------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The organization the token works in; null for a super admin's token, which works in every one.",
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "organization", "created_at", "last_used_at"]
        ref_name = "ApiToken"


class NewApiTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The token's key. Shown only now: store it safely.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        ref_name = "NewApiToken"


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. “LMS sync”.")


class SignedInNotToken(IsOrganizationMember):
    """Tokens are managed by a person signed in, never by a token: a leaked key cannot mint or hide others."""

    def has_permission(self, request, view) -> bool:
        super().has_permission(request, view)
        if isinstance(request.auth, ApiToken):
            raise denied(
                "API tokens cannot create, list or revoke tokens; sign in to the organization's site to manage them."
            )
        return True


class TokenListView(APIView):
    permission_classes = [SignedInNotToken]

    @extend_schema(
        summary="List my API tokens",
        description="Your active tokens (never their keys). Only a signed-in session may manage tokens: a request "
        "authenticated by a token gets 403.",
        responses={200: ApiTokenSerializer(many=True)},
        tags=["tokens"],
    )
    def get(self, request):
        return ok(ApiTokenSerializer(tokens.tokens_of(request.user), many=True).data)

    @extend_schema(
        summary="Create an API token",
        description="The answer holds the key, once; only a hash of it is stored. The token works only in this "
        "organization (a super admin's in every one). Needs a confirmed email address and a signed-in session.",
        request=TokenCreateSerializer,
        responses={201: NewApiTokenSerializer},
        examples=[
            OpenApiExample(
                "A new token",
                value={
                    "id": 7,
                    "name": "LMS sync",
                    "prefix": "1a2b3c4d",
                    "organization": "demo",
                    "created_at": "2025-05-01T09:00:00Z",
                    "last_used_at": None,
                    "key": "qm_1a2b3c4d_Jd8s...",
                },
                response_only=True,
            )
        ],
        tags=["tokens"],
    )
    def post(self, request):
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            require_verified_email(request.user, "create API tokens")
        except EmailNotVerified as exc:
            raise denied(str(exc)) from exc
        if tokens.too_many_tokens(request.user):
            raise ApiError(
                "You have too many active tokens; revoke some first.", code="VALIDATION_ERROR", status_code=400
            )
        token, key = tokens.create_token(request.user, body.validated_data["name"], request.organization)
        return ok({**ApiTokenSerializer(token).data, "key": key}, status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    permission_classes = [SignedInNotToken]

    @extend_schema(
        summary="Revoke an API token",
        description="The token stops working at once.",
        responses={200: ApiTokenSerializer},
        tags=["tokens"],
    )
    def delete(self, request, token_id: int):
        token = tokens.tokens_of(request.user).filter(pk=token_id).first()
        if token is None:
            raise ApiError("You have no active token with that id.", code="NOT_FOUND", status_code=404)
        tokens.revoke_token(token)
        return ok(ApiTokenSerializer(token).data)


# --- Webhooks ------------------------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.values))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "is_active", "created_at", "secret_rotated_at"]
        read_only_fields = ["id", "created_at", "secret_rotated_at"]
        ref_name = "WebhookEndpoint"

    def validate_url(self, value):
        return _django_to_drf(addresses.validate_url, value)

    def validate_events(self, value):
        return _django_to_drf(endpoints.validate_events, value)


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Signs deliveries. Shown only now: store it safely.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        ref_name = "WebhookEndpointWithSecret"


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "url",
            "status",
            "attempts",
            "response_code",
            "latency_ms",
            "last_error",
            "next_attempt_at",
            "created_at",
            "last_attempt_at",
            "delivered_at",
            "payload",
        ]
        ref_name = "WebhookDelivery"


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Shown only now: store it safely.")

    class Meta:
        ref_name = "WebhookSecret"


def _django_to_drf(check, value):
    try:
        return check(value)
    except ValidationError as exc:
        raise serializers.ValidationError(exc.messages)


class WebhookAdminView(APIView):
    permission_classes = [IsOrganizationAdmin]

    def endpoints(self, request):
        return WebhookEndpoint.objects.filter(organization=request.organization)

    def get_endpoint(self, request, endpoint_id) -> WebhookEndpoint:
        return found(self.endpoints(request).filter(pk=endpoint_id).first(), "webhook endpoint")


class WebhookListView(WebhookAdminView):
    @extend_schema(
        summary="List webhook endpoints",
        description="Owners and admins only.",
        responses={200: WebhookEndpointSerializer(many=True)},
        tags=["webhooks"],
    )
    def get(self, request):
        return ok(WebhookEndpointSerializer(self.endpoints(request), many=True).data)

    @extend_schema(
        summary="Register a webhook endpoint",
        description="The answer holds the endpoint's signing secret, once. Events: "
        + ", ".join(WebhookEvent.values)
        + ".",
        request=WebhookEndpointSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        examples=[
            OpenApiExample(
                "Job events",
                value={"url": "https://lms.example.org/quizmarker", "events": ["job.completed", "job.failed"]},
                request_only=True,
            )
        ],
        tags=["webhooks"],
    )
    def post(self, request):
        body = WebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = endpoints.create_endpoint(
            organization=request.organization, user=request.user, **body.validated_data
        )
        return ok(WebhookEndpointWithSecretSerializer(endpoint).data, status.HTTP_201_CREATED)


class WebhookDetailView(WebhookAdminView):
    @extend_schema(summary="Get a webhook endpoint", responses={200: WebhookEndpointSerializer}, tags=["webhooks"])
    def get(self, request, endpoint_id):
        return ok(WebhookEndpointSerializer(self.get_endpoint(request, endpoint_id)).data)

    @extend_schema(
        summary="Change a webhook endpoint",
        description="Change its URL, events, description, or pause it (`is_active`).",
        request=WebhookEndpointSerializer(partial=True),
        responses={200: WebhookEndpointSerializer},
        tags=["webhooks"],
    )
    def patch(self, request, endpoint_id):
        endpoint = self.get_endpoint(request, endpoint_id)
        body = WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        body.save()
        return ok(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Delete a webhook endpoint",
        description="Its delivery log goes with it.",
        responses={200: WebhookEndpointSerializer},
        tags=["webhooks"],
    )
    def delete(self, request, endpoint_id):
        endpoint = self.get_endpoint(request, endpoint_id)
        data = WebhookEndpointSerializer(endpoint).data
        endpoint.delete()
        return ok(data)


class WebhookRotateSecretView(WebhookAdminView):
    @extend_schema(
        summary="Rotate an endpoint's signing secret",
        description="The old secret stops signing at once; the answer holds the new one, once.",
        request=None,
        responses={200: SecretSerializer},
        tags=["webhooks"],
    )
    def post(self, request, endpoint_id):
        return ok({"secret": endpoints.rotate_secret(self.get_endpoint(request, endpoint_id))})


class WebhookTestView(WebhookAdminView):
    @extend_schema(
        summary="Send a test event",
        description=f"Queues a `{TEST_EVENT}` delivery to the endpoint; watch its log for the outcome.",
        request=None,
        responses={202: WebhookDeliverySerializer},
        tags=["webhooks"],
    )
    def post(self, request, endpoint_id):
        delivery = webhook_events.send_test_event(self.get_endpoint(request, endpoint_id))
        return ok(WebhookDeliverySerializer(delivery).data, status.HTTP_202_ACCEPTED)


class DeliveryQuery(PageQuery):
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"], required=False)


DeliveryPageSerializer = page_serializer("deliveries", WebhookDeliverySerializer, "WebhookDeliveryList")


class WebhookDeliveryListView(WebhookAdminView):
    @extend_schema(
        summary="An endpoint's delivery log",
        description="Newest first: status, attempts, response code, latency and the next retry.",
        parameters=[DeliveryQuery],
        responses={200: DeliveryPageSerializer},
        tags=["webhooks"],
    )
    def get(self, request, endpoint_id):
        endpoint = self.get_endpoint(request, endpoint_id)
        query = DeliveryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        deliveries = endpoint.deliveries.order_by("-created_at")
        if params.get("status"):
            deliveries = deliveries.filter(status=params["status"])
        return ok(paged(deliveries, params, WebhookDeliverySerializer, "deliveries"))


class WebhookRedeliverView(WebhookAdminView):
    @extend_schema(
        summary="Send a delivery again",
        description="Sends the same event (same id and body) again now, also one that gave up.",
        request=None,
        parameters=[OpenApiParameter("delivery_id", str, OpenApiParameter.PATH)],
        responses={202: WebhookDeliverySerializer},
        tags=["webhooks"],
    )
    def post(self, request, delivery_id):
        delivery = found(
            WebhookDelivery.objects.filter(pk=delivery_id, organization=request.organization).first(),
            "webhook delivery",
        )
        return ok(WebhookDeliverySerializer(redeliver(delivery)).data, status.HTTP_202_ACCEPTED)


class CallbackSecretView(WebhookAdminView):
    @extend_schema(
        summary="Rotate the callback secret",
        description="The secret that signs deliveries to a job's own `callback_url`. The answer holds the new "
        "secret, once; the old one stops signing at once.",
        request=None,
        responses={200: SecretSerializer},
        tags=["webhooks"],
        examples=[OpenApiExample("New secret", value={"secret": "whsec_..."}, response_only=True)],
    )
    def post(self, request):
        return ok({"secret": endpoints.rotate_callback_secret(request.organization)})


__all__ = [
    "TokenListView",
    "TokenDetailView",
    "WebhookListView",
    "WebhookDetailView",
    "WebhookRotateSecretView",
    "WebhookTestView",
    "WebhookDeliveryListView",
    "WebhookRedeliverView",
    "CallbackSecretView",
]


# --- Schema and docs -----------------------------------------------------------------------------------


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema (YAML; ``?format=json`` for JSON). Public: it holds no data."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []
    urlconf = "quizmarker.urls_tenant"


def docs_view(request):
    """Readable API documentation rendered on the server from the schema (no JavaScript or CDN needed)."""
    return render(request, "integrations/api_docs.html", docs_page.context(request))
