"""The super-admin console: organizations, users, jobs across organizations, usage, budget, dashboard, audit."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from jobs.models import BackgroundJob, JobStatus, JobType
from organizations.models import AdminAccessLog, Domain, Invitation, Membership, Organization, ProviderCall, User
from organizations.usage import month_start
from tests.helpers import enrol_totp, sheet

pytestmark = pytest.mark.django_db

ORGS = "/admin/organizations/organization/"


def call(org, when=None, **numbers):
    defaults = {"prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0, "cost_usd": Decimal("0")}
    row = ProviderCall.objects.create(
        organization=org, provider="openai", model="gpt-4.1-mini", purpose="grading", **{**defaults, **numbers}
    )
    if when is not None:
        ProviderCall.objects.filter(pk=row.pk).update(created_at=when)
    return row


def job(org, status=JobStatus.FAILED, job_type=JobType.GRADING, **fields):
    return BackgroundJob.objects.create(organization=org, job_type=job_type, status=status, **fields)


# --- Organizations ----------------------------------------------------------------------------------


def test_the_console_creates_an_organization_with_schema_domain_and_invited_owner(web, personas):
    response = web(None, personas.root).post(
        f"{ORGS}add/",
        {
            "name": "Gamma Skills",
            "slug": "gamma",
            "owner_email": "Olivia@Gamma.test",
            "plan": "pro",
            "quiz_limit_override": "",
            "monthly_budget_usd": "25.00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    organization = Organization.objects.get(slug="gamma")
    owner = User.objects.get(email="olivia@gamma.test")
    assert organization.schema_name == "gamma" and organization.plan == "pro"
    assert organization.monthly_budget_usd == Decimal("25.00")
    assert Domain.objects.get(tenant=organization, is_primary=True).domain == "gamma.localhost"
    assert [(m.user, m.role) for m in Membership.objects.filter(organization=organization)] == [(owner, "owner")]
    assert not owner.has_usable_password(), "a new owner chooses a password from the invitation"
    invitation = Invitation.objects.get(organization=organization, email="olivia@gamma.test", role="owner")
    assert [m.to for m in mail.outbox] == [["olivia@gamma.test"]]
    assert invitation.accept_url in mail.outbox[0].body
    with schema_context("gamma"):
        from grading.models import Student

        assert Student.objects.count() == 0, "the schema exists with its tables"


def test_the_command_goes_through_the_same_service_as_the_console(personas):
    from organizations.services import provision_organization

    with (
        mock.patch(
            "organizations.management.commands.create_organization.provision_organization", wraps=provision_organization
        ) as service,
        pytest.raises(CommandError, match="already taken"),
    ):
        call_command("create_organization", "alpha", name="X", owner="x@y.test", stdout=io.StringIO())
    service.assert_called_once_with(name="X", slug="alpha", owner_email="x@y.test", plan="free")
    assert not User.objects.filter(email="x@y.test").exists(), "no stray owner left behind"


def test_the_console_refuses_a_taken_or_reserved_address(web, personas):
    response = web(None, personas.root).post(
        f"{ORGS}add/", {"name": "Again", "slug": "alpha", "owner_email": "x@y.test", "plan": "free"}
    )
    assert response.status_code == 200
    assert "already taken" in response.content.decode()


def test_deactivating_locks_members_out_and_reactivating_lets_them_back(web, personas):
    admin = web(None, personas.root)
    admin.post(ORGS, {"action": "deactivate", "_selected_action": [personas.beta.pk]})
    assert not Organization.objects.get(pk=personas.beta.pk).is_active
    assert web(personas.beta, personas.charlie).get("/members/").status_code == 403
    admin.post(ORGS, {"action": "reactivate", "_selected_action": [personas.beta.pk]})
    assert web(personas.beta, personas.charlie).get("/members/").status_code == 200


def test_the_change_page_shows_members_usage_and_budget(web, personas):
    Organization.objects.filter(pk=personas.alpha.pk).update(monthly_budget_usd=Decimal("10.00"))
    call(personas.alpha, cost_usd=Decimal("1.25"))
    page = web(None, personas.root).get(f"{ORGS}{personas.alpha.pk}/change/").content.decode()
    assert "bob@alpha.test" in page, "the organization's members are listed"
    assert "estimated cost $1.25 of $10.00 budget" in page
    assert "Students and submissions (read-only, audited)" in page


def test_only_super_admins_reach_the_console(web, personas):
    assert web(None, personas.alice).get(ORGS).status_code == 302
    assert web(None, personas.alice).get("/admin/dashboard/").status_code == 302


def test_users_are_searchable_by_organization_and_can_be_deactivated(web, personas):
    admin = web(None, personas.root)
    page = admin.get("/admin/organizations/user/", {"q": "Alpha Care"}).content.decode()
    assert "bob@alpha.test" in page and "charlie@beta.test" not in page
    admin.post("/admin/organizations/user/", {"action": "deactivate", "_selected_action": [personas.bob.pk]})
    assert not User.objects.get(pk=personas.bob.pk).is_active


# --- Jobs across organizations -------------------------------------------------------------------------


def test_retry_starts_failed_jobs_again_and_skips_the_others(web, personas):
    files = {"files": [{"path": "uploads/alpha/x/1.png", "pages": 1}], "standard_id": 3}
    failed = job(
        personas.alpha, JobStatus.FAILED, job_type=JobType.EXTRACTION, input=files, error_message="Boom", error_code="X"
    )
    done = job(personas.beta, JobStatus.COMPLETED)
    response = web(None, personas.root).post(
        "/admin/jobs/backgroundjob/",
        {"action": "retry_jobs", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Started 1 new job(s)" in page and "Skipped 1 job(s)" in page
    retried = BackgroundJob.objects.exclude(pk__in=[failed.pk, done.pk]).get(organization=personas.alpha)
    assert retried.status == JobStatus.QUEUED and retried.input == files
    assert retried.user == personas.root
    failed.refresh_from_db()
    assert failed.retried_as == retried.pk


def test_cancel_stops_queued_jobs_and_leaves_finished_ones(web, personas):
    queued = job(personas.alpha, JobStatus.QUEUED)
    done = job(personas.alpha, JobStatus.COMPLETED)
    response = web(None, personas.root).post(
        "/admin/jobs/backgroundjob/", {"action": "cancel_jobs", "_selected_action": [queued.pk, done.pk]}, follow=True
    )
    assert "Cancelled 1 job(s)" in response.content.decode()
    queued.refresh_from_db()
    done.refresh_from_db()
    assert (queued.status, done.status) == (JobStatus.CANCELLED, JobStatus.COMPLETED)
    assert queued.events.filter(message__contains="root@quizmarker.test").exists()


def test_jobs_filter_by_organization_type_and_status_and_show_errors_timings_and_flower(web, personas, settings):
    settings.FLOWER_URL = "http://flower.test:5555"
    now = timezone.now()
    failed = job(
        personas.beta,
        JobStatus.FAILED,
        error_message="The AI service refused the request.",
        error_code="PROVIDER_ERROR",
        celery_task_id="task-123",
        started_at=now - timedelta(seconds=30),
        completed_at=now,
    )
    job(personas.alpha, JobStatus.COMPLETED, job_type=JobType.EXTRACTION)
    admin = web(None, personas.root)
    response = admin.get(
        "/admin/jobs/backgroundjob/",
        {"organization__id__exact": personas.beta.pk, "job_type__exact": "grading", "status__exact": "failed"},
    )
    assert list(response.context["cl"].result_list) == [failed], "only the matching job"
    listing = response.content.decode()
    assert str(failed.pk)[:8] in listing and "PROVIDER_ERROR" in listing
    page = admin.get(f"/admin/jobs/backgroundjob/{failed.pk}/change/").content.decode()
    assert "The AI service refused the request." in page
    assert "30.0 s" in page
    assert "http://flower.test:5555/task/task-123" in page


# --- Usage report and budget ------------------------------------------------------------------------


def seed_usage(personas):
    call(personas.alpha, prompt_tokens=1000, cached_tokens=200, completion_tokens=300, cost_usd=Decimal("0.001"))
    call(personas.alpha, prompt_tokens=500, completion_tokens=100, cost_usd=Decimal("0.0005"), succeeded=False)
    call(personas.beta, prompt_tokens=40, completion_tokens=2, cost_usd=Decimal("0"))
    call(personas.alpha, when=month_start() - timedelta(days=3), prompt_tokens=7, cost_usd=Decimal("0.5"))


def test_the_usage_report_sums_tokens_calls_and_cost_per_organization_and_month(web, personas):
    seed_usage(personas)
    this_month = month_start().strftime("%Y-%m")
    response = web(None, personas.root).get(f"{ORGS}usage/", {"month": this_month})
    assert response.status_code == 200
    rows = {row["organization__slug"]: row for row in response.context["rows"]}
    assert set(rows) == {"alpha", "beta"}
    alpha = rows["alpha"]
    assert (alpha["calls"], alpha["failed_calls"]) == (2, 1)
    assert (alpha["prompt_tokens"], alpha["cached_tokens"], alpha["completion_tokens"]) == (1500, 200, 400)
    assert alpha["total_tokens"] == 1900
    assert alpha["cost_usd"] == Decimal("0.0015")
    all_months = web(None, personas.root).get(f"{ORGS}usage/").context["rows"]
    assert [(r["organization__slug"], r["calls"]) for r in all_months][-1] == ("alpha", 1), "last month's row"


def test_the_usage_report_exports_csv(web, personas):
    seed_usage(personas)
    Organization.objects.filter(pk=personas.alpha.pk).update(monthly_budget_usd=Decimal("5"))
    this_month = month_start().strftime("%Y-%m")
    response = web(None, personas.root).get(f"{ORGS}usage/", {"month": this_month, "export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["slug"] for r in rows] == ["alpha", "beta"]
    assert rows[0] == {
        "month": this_month,
        "organization": "Alpha Care Training",
        "slug": "alpha",
        "quizzes_graded": "0",
        "calls": "2",
        "failed_calls": "1",
        "prompt_tokens": "1500",
        "cached_tokens": "200",
        "completion_tokens": "400",
        "total_tokens": "1900",
        "estimated_cost_usd": "0.0015",
        "monthly_budget_usd": "5.00",
    }


def test_jobs_are_refused_with_a_sentence_once_the_budget_is_spent(api, personas):
    Organization.objects.filter(pk=personas.alpha.pk).update(monthly_budget_usd=Decimal("2.00"))
    call(personas.alpha, cost_usd=Decimal("1.50"))
    client = api(Organization.objects.get(pk=personas.alpha.pk), personas.alice)
    accepted = client.post("/api/v1/upload", {"files": [sheet("s01_std01_breip_p1.png")]}, format="multipart")
    assert accepted.status_code == 202, accepted.json()
    call(personas.alpha, cost_usd=Decimal("0.50"))
    response = client.post("/api/v1/upload", {"files": [sheet("s01_std01_breip_p1.png")]}, format="multipart")
    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False and body["code"] == "BUDGET_EXCEEDED"
    assert body["error"] == (
        "This organization has used its AI budget for the month ($2.00 of $2.00); ask an administrator to raise it."
    )
    assert body["details"] == {"budget_usd": "2.00", "spent_usd": "2.00"}


def test_a_spent_budget_does_not_touch_other_organizations(api, personas):
    Organization.objects.filter(pk=personas.alpha.pk).update(monthly_budget_usd=Decimal("0.10"))
    call(personas.alpha, cost_usd=Decimal("1"))
    response = api(personas.beta, personas.charlie).post(
        "/api/v1/upload", {"files": [sheet("s01_std01_breip_p1.png")]}, format="multipart"
    )
    assert response.status_code == 202


# --- Dashboard -----------------------------------------------------------------------------------------


def test_the_dashboard_renders_todays_figures_and_charts(web, personas):
    now = timezone.now()
    for seconds in (10, 20, 30, 40):
        job(personas.alpha, JobStatus.COMPLETED, started_at=now - timedelta(seconds=seconds), completed_at=now)
    job(personas.alpha, JobStatus.FAILED, completed_at=now)
    oldest = job(personas.beta, JobStatus.QUEUED, job_type=JobType.EXTRACTION)
    BackgroundJob.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(minutes=5))
    call(personas.alpha, prompt_tokens=1000, cached_tokens=100, completion_tokens=500, cost_usd=Decimal("1.5"))

    response = web(None, personas.root).get("/admin/dashboard/")
    assert response.status_code == 200
    context = response.context
    assert dict((label, n) for label, n, _ in context["by_status"])["Completed"] == 4
    assert context["failure_rate"] == 20.0
    assert context["grading_avg"] == pytest.approx(25.0, abs=0.5)
    assert context["grading_p95"] == pytest.approx(38.5, abs=0.5)
    assert context["oldest_queued"] == oldest
    assert context["tokens"]["prompt"] == 1000 and context["tokens"]["cost"] == Decimal("1.5")
    assert [o.slug for o in context["busiest"]][:2] == ["alpha", "beta"]
    page = response.content.decode()
    assert page.count('<svg class="chart"') == 4
    assert "20.0 %" in page and "$1.50" in page and "<script" not in page.split('id="content-main"')[1]


# --- Opening an organization's data ----------------------------------------------------------------------


def test_opening_an_organizations_data_is_read_only_and_audited(web, personas):
    from grading.models import Student

    with schema_context(personas.alpha.schema_name):
        Student.objects.create(full_name="Pat Learner", reference="L-1")
    response = web(None, personas.root).get(f"{ORGS}{personas.alpha.pk}/data/", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    assert "Pat Learner" in response.content.decode()
    entry = AdminAccessLog.objects.get()
    assert (entry.user, entry.user_email, entry.organization) == (
        personas.root,
        "root@quizmarker.test",
        personas.alpha,
    )
    assert entry.what == "students and submissions" and entry.ip_address == "10.1.2.3"
    assert timezone.now() - entry.at < timedelta(minutes=1)
    listing = web(None, personas.root).get("/admin/organizations/adminaccesslog/").content.decode()
    assert "root@quizmarker.test" in listing


def test_a_super_admin_opening_an_organizations_site_directly_is_audited_once_per_page(web, personas):
    from grading.models import Student

    with schema_context(personas.alpha.schema_name):
        Student.objects.create(full_name="Sam Direct", reference="L-2")
    marker = uuid.uuid4().hex  # the audit's de-duplication outlives a test: a fresh address for each run
    root = web(personas.alpha, personas.root)
    first = root.get(f"/students/?q=Sam&run={marker}", REMOTE_ADDR="10.9.8.7")
    assert first.status_code == 200 and "Sam Direct" in first.content.decode()
    entry = AdminAccessLog.objects.get()
    assert (entry.user, entry.organization, entry.what) == (personas.root, personas.alpha, "its site (GET)")
    assert entry.path == f"/students/?q=Sam&run={marker}" and entry.ip_address == "10.9.8.7"

    assert root.get(f"/students/?q=Sam&run={marker}").status_code == 200  # a reload within 10 minutes
    assert AdminAccessLog.objects.count() == 1
    assert root.get(f"/submissions/?run={marker}").status_code == 200  # another page
    assert list(AdminAccessLog.objects.order_by("at").values_list("path", flat=True)) == [
        f"/students/?q=Sam&run={marker}",
        f"/submissions/?run={marker}",
    ]

    member = web(personas.alpha, personas.alice)  # the organization's owner: her own data, no entry
    assert member.get(f"/students/?run={marker}").status_code == 200
    assert AdminAccessLog.objects.count() == 2


def test_a_super_admin_using_an_organizations_api_is_audited_and_a_polled_job_only_once(api, personas):
    polled = job(personas.alpha, status=JobStatus.PROCESSING, user=personas.alice)
    run = uuid.uuid4().hex  # the audit's de-duplication outlives a test: fresh addresses for each run
    students = f"/api/v1/students?run={run}"
    beta_members = f"/api/v1/organizations/{personas.beta.pk}/members?run={run}"
    root = api(personas.alpha, personas.root)
    for _ in range(3):  # clients poll every 2 s: one entry, not one a poll
        response = root.get(f"/api/v1/jobs/{polled.pk}")
        assert response.status_code == 200 and response.json()["data"]["status"] == "processing"
    assert root.get(students).status_code == 200
    # Another organization's members, by id from this host; changes are recorded every time.
    assert root.get(beta_members).status_code == 200
    assert root.delete(f"/api/v1/jobs/{polled.pk}").status_code == 200
    assert root.delete(f"/api/v1/jobs/{polled.pk}").status_code == 409
    entries = list(AdminAccessLog.objects.order_by("at", "pk").values_list("organization", "what", "path"))
    assert entries == [
        (personas.alpha.pk, "its API (GET)", f"/api/v1/jobs/{polled.pk}"),
        (personas.alpha.pk, "its API (GET)", students),
        (personas.beta.pk, "its API (GET)", beta_members),
        (personas.alpha.pk, "its API (DELETE)", f"/api/v1/jobs/{polled.pk}"),
        (personas.alpha.pk, "its API (DELETE)", f"/api/v1/jobs/{polled.pk}"),
    ]
    assert set(AdminAccessLog.objects.values_list("user", flat=True)) == {personas.root.pk}

    owner = api(personas.alpha, personas.alice)
    assert owner.get(f"/api/v1/jobs/{polled.pk}").status_code == 200
    assert owner.get(students).status_code == 200
    assert owner.get(f"/api/v1/organizations/{personas.alpha.pk}/members").status_code == 200
    assert AdminAccessLog.objects.count() == 5


def test_staff_who_are_not_super_admins_cannot_open_organization_data(web, personas):
    User.objects.filter(pk=personas.dana.pk).update(is_staff=True)
    enrol_totp(personas.dana)  # staff use the site only with a second factor
    response = web(None, User.objects.get(pk=personas.dana.pk)).get(f"{ORGS}{personas.alpha.pk}/data/")
    assert response.status_code == 403
    assert not AdminAccessLog.objects.exists()


def test_the_console_pages_render(web, personas):
    Invitation.objects.create(organization=personas.alpha, email="pending@alpha.test")
    admin = web(None, personas.root)
    for url in [
        "/admin/",
        f"{ORGS}",
        f"{ORGS}add/",
        "/admin/organizations/invitation/",
        "/admin/organizations/membership/",
        "/admin/organizations/providercall/",
        "/admin/jobs/backgroundjob/",
        f"{ORGS}usage/",
    ]:
        assert admin.get(url).status_code == 200, url
    assert b"Service console" in admin.get("/admin/").content
