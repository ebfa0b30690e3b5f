"""Jobs across all organizations in the super-admin console: filter, inspect, retry and cancel."""

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html

from jobs.cancel_retry import cancel_job, retry_job
from jobs.errors import DomainError, PermanentJobError
from jobs.models import ACTIVE_STATUSES, BackgroundJob, GradingSession, JobEvent, SentEmail


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "level", "message"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


def flower_url(job: BackgroundJob) -> str | None:
    if not job.celery_task_id or job.celery_task_id.startswith("inline-"):
        return None
    return f"{settings.FLOWER_URL.rstrip('/')}/task/{job.celery_task_id}"


@admin.register(BackgroundJob)
class BackgroundJobAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "organization",
        "job_type",
        "status",
        "progress",
        "retry_count",
        "created_at",
        "duration",
        "error_summary",
    ]
    list_filter = ["status", "job_type", "organization", "created_at"]
    list_select_related = ["organization", "user"]
    search_fields = ["id", "celery_task_id", "user__email", "organization__slug", "error_message"]
    date_hierarchy = "created_at"
    actions = ["retry_jobs", "cancel_jobs"]
    fieldsets = (
        (None, {"fields": ("id", "organization", "user", "session", "job_type", "priority", "status")}),
        ("Progress", {"fields": ("progress", "current_step", "retry_count", "max_retries")}),
        ("Error", {"fields": ("error_code", "error_message")}),
        (
            "Timings",
            {
                "fields": (
                    "created_at",
                    "enqueued_at",
                    "not_before",
                    "started_at",
                    "attempt_started_at",
                    "heartbeat_at",
                    "completed_at",
                    "expires_at",
                    "wait",
                    "duration",
                )
            },
        ),
        ("Worker", {"fields": ("worker", "celery_task_id", "flower_link")}),
        ("Data", {"classes": ("collapse",), "fields": ("input", "result")}),
    )
    readonly_fields = [f.name for f in BackgroundJob._meta.fields] + ["wait", "duration", "flower_link"]
    inlines = [JobEventInline]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Job", ordering="id")
    def short_id(self, obj):
        return str(obj.id)[:8]

    @admin.display(description="Waited")
    def wait(self, obj):
        return f"{obj.wait_seconds:.1f} s" if obj.wait_seconds is not None else "—"

    @admin.display(description="Ran for")
    def duration(self, obj):
        return f"{obj.duration_seconds:.1f} s" if obj.duration_seconds is not None else "—"

    @admin.display(description="Error")
    def error_summary(self, obj):
        if not obj.error_message:
            return ""
        text = obj.error_message if len(obj.error_message) <= 80 else obj.error_message[:79] + "…"
        return format_html("<span title='{}'>{}: {}</span>", obj.error_message, obj.error_code or "ERROR", text)

    @admin.display(description="Flower")
    def flower_link(self, obj):
        url = flower_url(obj)
        if url is None:
            return "—"
        return format_html("<a href='{}' target='_blank' rel='noopener'>Open the task in Flower</a>", url)

    @admin.action(description="Retry (start again as a new job)")
    def retry_jobs(self, request, queryset):
        started, skipped = [], 0
        for job in queryset.select_related("organization", "session", "user"):
            try:
                started.append(retry_job(job, by=request.user))
            except PermanentJobError:
                skipped += 1
            except DomainError as exc:  # e.g. the organization's AI budget is spent
                self.message_user(request, f"{job.organization.slug}: {exc.message}", messages.ERROR)
        if started:
            self.message_user(request, f"Started {len(started)} new job(s) with the same input.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} job(s): only failed or cancelled jobs can be retried.", messages.WARNING
            )

    @admin.action(description="Cancel")
    def cancel_jobs(self, request, queryset):
        cancelled = skipped = 0
        for job in queryset.filter(status__in=ACTIVE_STATUSES):
            if cancel_job(job, by=request.user):
                cancelled += 1
            else:
                skipped += 1
        skipped += queryset.exclude(status__in=ACTIVE_STATUSES).count()
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} job(s).", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {skipped} job(s) that had already finished.", messages.WARNING)


@admin.register(GradingSession)
class GradingSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "label", "user", "created_at"]
    list_filter = ["organization"]
    search_fields = ["id", "label", "user__email"]


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    list_display = ["job", "kind", "recipients", "created_at", "sent_at"]
    search_fields = ["recipients", "kind"]
