"""The super-admin console for organizations, people and AI usage (Django admin on the bare domain)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django_tenants.utils import schema_context

from organizations import dashboard
from organizations.forms import OrganizationAddForm
from organizations.models import (
    AdminAccessLog,
    Domain,
    Invitation,
    Membership,
    Organization,
    ProviderCall,
    UsageMonth,
    User,
)
from organizations.services import log_admin_access, provision_organization, send_invitation_email, set_active
from organizations.usage import cost_this_month, month_start, quizzes_this_month


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ["email", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    readonly_fields = fields
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "plan",
        "quiz_limit",
        "monthly_budget_usd",
        "member_count",
        "is_active",
        "deleted_at",
        "created_at",
    ]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "slug"]
    actions = ["deactivate", "reactivate"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "schema_name", "links")}),
        ("Plan and limits", {"fields": ("plan", "quiz_limit_override", "monthly_budget_usd", "usage_this_month")}),
        ("Settings", {"fields": ("pass_mark", "notify_on_grading_complete", "ai_provider")}),
        ("Status", {"fields": ("is_active", "deleted_at", "created_at")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "slug", "owner_email")}),
        ("Plan and limits", {"fields": ("plan", "quiz_limit_override", "monthly_budget_usd")}),
    )
    readonly_fields = ["slug", "schema_name", "created_at", "deleted_at", "links", "usage_this_month"]
    inlines = [MembershipInline, InvitationInline, DomainInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships", distinct=True))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj):
        return getattr(obj, "_members", None)

    # --- adding: the same service as `manage.py create_organization` ---

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OrganizationAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        organization, owner, _ = provision_organization(
            name=data["name"],
            slug=data["slug"],
            owner_email=data["owner_email"],
            plan=data["plan"],
            invited_by=request.user,
            quiz_limit_override=data.get("quiz_limit_override"),
            monthly_budget_usd=data.get("monthly_budget_usd"),
        )
        # The admin goes on with `obj` (log entry, redirect): make it the organization the service created.
        obj.__dict__.update(organization.__dict__)
        messages.info(request, f"{owner.email} is the owner and was emailed an invitation link.")
        return None

    # --- read-only figures and links on the change page ---

    @admin.display(description="Usage this month")
    def usage_this_month(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        calls = ProviderCall.objects.filter(organization=obj, created_at__gte=month_start())
        totals = calls.aggregate(calls=Count("id"))
        limit = obj.quiz_limit
        cost = cost_this_month(obj)
        budget = obj.monthly_budget_usd
        return format_html(
            "Quizzes {} of {} · AI calls {} · estimated cost ${}{} · <a href='{}?organization={}'>usage report</a>",
            quizzes_this_month(obj),
            limit if limit is not None else "unlimited",
            totals["calls"],
            f"{cost:.2f}",
            f" of ${budget:.2f} budget" if budget is not None else " (no budget cap)",
            reverse("admin:organizations_organization_usage"),
            obj.pk,
        )

    @admin.display(description="Open")
    def links(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            "<a href='{}'>Students and submissions (read-only, audited)</a> · <a href='{}'>Jobs</a> · "
            "<a href='{}'>Site</a>",
            reverse("admin:organizations_organization_data", args=[obj.pk]),
            reverse("admin:jobs_backgroundjob_changelist") + f"?organization__id__exact={obj.pk}",
            obj.url(),
        )

    # --- actions ---

    @admin.action(description="Deactivate (members lose access; data kept)")
    def deactivate(self, request, queryset):
        n = set_active(queryset, False)
        self.message_user(request, f"Deactivated {n} organization(s); their data is kept.", messages.SUCCESS)

    @admin.action(description="Reactivate")
    def reactivate(self, request, queryset):
        n = set_active(queryset, True)
        self.message_user(request, f"Reactivated {n} organization(s).", messages.SUCCESS)

    # --- extra console pages ---

    def get_urls(self):
        extra = [
            path("usage/", self.admin_site.admin_view(dashboard.usage_report), name="organizations_organization_usage"),
            path(
                "<int:object_id>/data/",
                self.admin_site.admin_view(self.data_view),
                name="organizations_organization_data",
            ),
            path(
                "<int:object_id>/data/submissions/<uuid:submission_id>/",
                self.admin_site.admin_view(self.data_view),
                name="organizations_organization_submission",
            ),
        ]
        return extra + super().get_urls()

    def data_view(self, request, object_id: int, submission_id=None):
        """An organization's students and submissions, read-only, for super admins; every opening is recorded."""
        dashboard.require_super_admin(request)
        organization = get_object_or_404(Organization, pk=object_id)
        from grading.models import QuestionResult, Student, Submission
        from markschemes.models import MarkScheme

        context = {
            **self.admin_site.each_context(request),
            "title": f"{organization.name}: students and submissions",
            "organization": organization,
            "opts": self.model._meta,
        }
        with schema_context(organization.schema_name):
            if submission_id is not None:
                submission = get_object_or_404(Submission.objects.select_related("student"), pk=submission_id)
                context["submission"] = submission
                context["questions"] = list(QuestionResult.objects.filter(submission=submission).order_by("number"))
                what = f"submission {submission_id}"
            else:
                students = Student.objects.annotate(submission_count=Count("submissions")).order_by("full_name")
                submissions = Submission.objects.select_related("student").order_by("-created_at")
                context.update(
                    student_count=students.count(),
                    students=list(students[:200]),
                    submission_count=submissions.count(),
                    submissions=list(submissions[:200]),
                    mark_schemes=list(
                        MarkScheme.objects.select_related("subject")
                        .annotate(question_count=Count("questions"), marks=Sum("questions__max_marks"))
                        .order_by("standard", "subject__name", "title", "-version")
                    ),
                )
                what = "students and submissions"
        context["log_entry"] = log_admin_access(request, organization, what)
        return TemplateResponse(request, "admin/organizations/organization_data.html", context)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "organizations", "is_superuser", "is_active", "last_login", "date_joined"]
    list_filter = ["is_superuser", "is_staff", "is_active", "memberships__role"]
    search_fields = ["email", "full_name", "memberships__organization__name"]
    actions = ["deactivate", "reactivate"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__organization").distinct()

    @admin.display(description="Organizations (role)")
    def organizations(self, obj):
        return ", ".join(f"{m.organization.slug} ({m.role})" for m in obj.memberships.all()) or "—"

    @admin.action(description="Deactivate (cannot sign in)")
    def deactivate(self, request, queryset):
        n = queryset.exclude(pk=request.user.pk).update(is_active=False)
        self.message_user(request, f"Deactivated {n} user(s).", messages.SUCCESS)

    @admin.action(description="Reactivate")
    def reactivate(self, request, queryset):
        n = queryset.update(is_active=True)
        self.message_user(request, f"Reactivated {n} user(s).", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_editable = ["role"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "user__full_name", "organization__name", "organization__slug"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role", "organization"]
    search_fields = ["email", "organization__name"]
    readonly_fields = ["token", "invited_by", "created_at", "accepted_at", "accepted_by"]
    autocomplete_fields = ["organization"]
    actions = ["resend"]

    @admin.action(description="Send the invitation email again")
    def resend(self, request, queryset):
        pending = [invitation for invitation in queryset.select_related("organization") if invitation.is_pending]
        for invitation in pending:
            send_invitation_email(invitation)
        self.message_user(request, f"Sent {len(pending)} invitation(s) again.", messages.SUCCESS)


class RecordAdmin(admin.ModelAdmin):
    """Rows the service writes and nobody adds, edits or deletes by hand: the console only shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AdminAccessLog)
class AdminAccessLogAdmin(RecordAdmin):
    """The audit trail: read-only and never deleted from the console."""

    list_display = ["at", "user_email", "organization", "what", "path", "ip_address"]
    list_filter = ["organization"]
    search_fields = ["user_email", "organization__name", "what", "path"]
    date_hierarchy = "at"


@admin.register(ProviderCall)
class ProviderCallAdmin(RecordAdmin):
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

    def has_delete_permission(self, request, obj=None):
        # The call log may be pruned, as Django's permissions allow; the ledger and the audit trail may not.
        return admin.ModelAdmin.has_delete_permission(self, request, obj)


@admin.register(UsageMonth)
class UsageMonthAdmin(RecordAdmin):
    """The usage ledger, read-only: plan limits and reports count from it, so nobody edits or deletes a row."""

    list_display = ["month", "organization", "quizzes_graded", "grading_jobs", "updated_at"]
    list_filter = ["organization"]
