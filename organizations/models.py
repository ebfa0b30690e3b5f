"""Tenants (organizations), their domains, users and memberships — all in the public schema."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9]{1,39}$",
    "Use 2 to 40 lowercase letters and digits, starting with a letter (it becomes part of the web address).",
)
RESERVED_SLUGS = frozenset({"www", "admin", "api", "public", "static", "media", "mail", "app", "help", "status"})


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


class Organization(TenantMixin):
    """A training company. Its students, quizzes and grades live in its own PostgreSQL schema."""

    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=40, unique=True, validators=[SLUG_VALIDATOR])
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    quiz_limit_override = models.PositiveIntegerField(
        null=True, blank=True, help_text="Quizzes per month for this organization; empty uses the plan's limit."
    )
    monthly_budget_usd = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Estimated AI spend per month after which new jobs are refused; empty means no cap.",
    )
    pass_mark = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Percentage at or above which a submission is reported as a pass.",
    )
    notify_on_grading_complete = models.BooleanField(
        default=True, help_text="Email the assessor when a grading job completes."
    )
    ai_provider = models.CharField(
        max_length=20,
        blank=True,
        choices=[
            ("", "Service default"),
            ("openai", "OpenAI-compatible API"),
            ("local", "Local (offline, no AI service)"),
        ],
        help_text="Which AI provider grades this organization's quizzes; empty uses QUIZMARKER_AI_PROVIDER.",
    )
    is_active = models.BooleanField(
        default=True, help_text="Inactive organizations keep their data but nobody can sign in to them."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its owner deleted it. Deleting only deactivates: the data is kept until support erases it.",
    )

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args, **kwargs):
        if not self.schema_name:
            self.schema_name = self.slug
        super().save(*args, **kwargs)

    @property
    def quiz_limit(self) -> int | None:
        """Quizzes allowed per calendar month; None means unlimited."""
        if self.quiz_limit_override is not None:
            return self.quiz_limit_override
        return settings.PLAN_QUIZ_LIMITS.get(self.plan)

    @property
    def host(self) -> str:
        return f"{self.slug}.{settings.BASE_DOMAIN}"

    def url(self, path: str = "/") -> str:
        port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
        return f"{settings.SITE_SCHEME}://{self.host}{port}{path}"


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address. Super admins have ``is_superuser``."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin site.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member (assessor)"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_user_and_org")]
        ordering = ["organization__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.organization.slug}"

    @property
    def can_manage(self) -> bool:
        """The role manages the organization (organizations.permissions decides; this is its answer for a role)."""
        from organizations.permissions import MANAGING_ROLES

        return self.role in MANAGING_ROLES


class ProviderCall(models.Model):
    """One call to an AI provider, for usage reports, budgets and cost (no student data: ids and numbers only)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="provider_calls")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    job = models.ForeignKey(
        "jobs.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="provider_calls"
    )
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=100)
    purpose = models.CharField(max_length=40, help_text="extraction, grading or grading_question")
    prompt_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "created_at"], name="providercall_org_created")]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.purpose} for {self.organization_id}"


class UsageMonth(models.Model):
    """The usage ledger: scripts graded per organization per calendar month (UTC), the month in which the grading
    completed. Written in the transaction that completes each grading job; never removed by the jobs' clean-up, so
    plan limits and usage reports survive the jobs' expiry."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_months")
    month = models.DateField(help_text="The 1st of the month (UTC).")
    quizzes_graded = models.PositiveIntegerField(default=0, help_text="Scripts whose grading completed that month.")
    grading_jobs = models.PositiveIntegerField(default=0, help_text="Grading jobs that completed that month.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "organization"]
        constraints = [models.UniqueConstraint(fields=["organization", "month"], name="one_usage_row_per_org_month")]
        verbose_name = "monthly usage"
        verbose_name_plural = "monthly usage"

    def __str__(self) -> str:
        return f"{self.organization_id} {self.month:%Y-%m}: {self.quizzes_graded} quizzes"


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


def _invitation_expiry():
    return timezone.now() + timedelta(days=INVITATION_DAYS)


INVITATION_DAYS = 14


class Invitation(models.Model):
    """An email address invited to join an organization with a role; the emailed link carries the token."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} invited to {self.organization.slug} as {self.role}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()

    @property
    def accept_url(self) -> str:
        return self.organization.url(f"/invitations/{self.token}/")


class AdminAccessLog(models.Model):
    """A super admin opened an organization's data — from the console, or its site or API without being a member: who,
    what and when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_email = models.EmailField(help_text="Kept if the user is deleted.")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="admin_access_logs")
    what = models.CharField(max_length=200)
    path = models.CharField(max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = "admin access to organization data"
        verbose_name_plural = "admin access to organization data"

    def __str__(self) -> str:
        return f"{self.user_email} opened {self.what} of {self.organization.slug} at {self.at:%Y-%m-%d %H:%M}"
