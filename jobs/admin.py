from django.contrib import admin

from jobs.models import BackgroundJob, GradingSession, JobEvent, SentEmail


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "level", "message"]
    fields = readonly_fields


@admin.register(BackgroundJob)
class BackgroundJobAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "job_type", "status", "progress", "retry_count", "created_at", "completed_at"]
    list_filter = ["status", "job_type", "organization", "created_at"]
    search_fields = ["id", "celery_task_id", "user__email"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in BackgroundJob._meta.fields]
    inlines = [JobEventInline]


@admin.register(GradingSession)
class GradingSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "label", "created_at"]
    list_filter = ["organization"]


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    list_display = ["job", "kind", "recipients", "created_at", "sent_at"]
