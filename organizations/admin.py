from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from organizations.models import Domain, Membership, Organization, ProviderCall, User


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "quiz_limit", "is_active", "created_at"]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["schema_name", "created_at"]
    inlines = [DomainInline, MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # The slug is the schema name: fixed once the schema exists.
        return [*self.readonly_fields, "slug"] if obj else self.readonly_fields


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_superuser", "is_active", "date_joined"]
    list_filter = ["is_superuser", "is_staff", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(ProviderCall)
class ProviderCallAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "organization",
        "provider",
        "model",
        "purpose",
        "prompt_tokens",
        "cached_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
        "succeeded",
    ]
    list_filter = ["provider", "purpose", "succeeded", "organization"]
    date_hierarchy = "created_at"
