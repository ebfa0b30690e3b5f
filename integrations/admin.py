from django.contrib import admin, messages
from django.utils import timezone

from integrations.models import ApiToken, CallbackSecret, WebhookDelivery, WebhookEndpoint


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "works_in", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "created_at", "organization"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = [
        "user",
        "organization",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    @admin.display(description="Works in")
    def works_in(self, token) -> str:
        return token.organization.slug if token.organization_id else "EVERY organization (super admin's)"

    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are created by their owners, who see them once

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ["created_at", "event", "status", "attempts", "response_code", "latency_ms", "next_attempt_at"]
    readonly_fields = fields
    ordering = ["-created_at"]
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "organization", "is_active", "created_at"]
    list_filter = ["is_active", "organization"]
    search_fields = ["url", "organization__slug"]
    exclude = ["secret"]
    readonly_fields = ["created_at", "secret_rotated_at", "created_by"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "event", "url", "status", "attempts", "response_code", "latency_ms"]
    list_filter = ["status", "event", "organization"]
    search_fields = ["id", "event_id", "url", "job_id"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]


@admin.register(CallbackSecret)
class CallbackSecretAdmin(admin.ModelAdmin):
    list_display = ["organization", "rotated_at"]
    exclude = ["secret"]
    readonly_fields = ["organization", "rotated_at"]
