"""The job endpoints of API v1, as the shared contract describes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import api_data, api_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_this_tests_jobs")]

CONTRACT_FIELDS = {
    "id",
    "job_type",
    "status",
    "progress",
    "current_step",
    "retry_count",
    "created_at",
    "started_at",
    "completed_at",
    "expires_at",
}


# --- The status endpoint --------------------------------------------------------------------------


def test_the_status_endpoint_answers_with_the_contracts_job_object(api, personas, make_job):
    job = make_job(progress=40, current_step="Reading page 2 of 5")

    data = api_data(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}"))

    assert set(data) >= CONTRACT_FIELDS
    assert data["id"] == str(job.pk)
    assert data["job_type"] == "extraction"
    assert data["status"] == "queued"
    assert data["progress"] == 40
    assert data["current_step"] == "Reading page 2 of 5"
    assert data["retry_count"] == 0
    assert data["started_at"] is None and data["completed_at"] is None
    assert data["expires_at"] > data["created_at"]
    assert "result" not in data and "error" not in data


def test_a_completed_job_carries_its_result_and_no_error(api, personas, make_job):
    job = make_job(status="completed", progress=100, result={"quiz_ids": [7]})

    data = api_data(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}"))

    assert data["status"] == "completed"
    assert data["result"] == {"quiz_ids": [7]}
    assert data["completed_at"] is not None
    assert "error" not in data


def test_a_failed_job_carries_its_error_and_no_result(api, personas, make_job):
    job = make_job(status="failed", error_message="The file is not a readable PDF.", error_code="UNSUPPORTED_FILE")

    data = api_data(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}"))

    assert data["error"] == "The file is not a readable PDF."
    assert "result" not in data


@pytest.mark.parametrize("status", ["queued", "processing", "cancelled"])
def test_an_unfinished_or_cancelled_job_carries_neither_result_nor_error(api, personas, make_job, status):
    job = make_job(status=status, result={"stale": True}, error_message="stale")

    data = api_data(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}"))

    assert "result" not in data and "error" not in data


def test_an_unknown_job_id_is_a_404_envelope(api, personas):
    response = api(personas.alpha, personas.alice).get("/api/v1/jobs/00000000-0000-4000-8000-000000000000")
    api_error(response, 404, "NOT_FOUND")


@pytest.fixture
def warm_host_cache(settings):
    """Production keeps a host's organization in the process for a few seconds (off in tests by default)."""
    from quizmarker.middleware import forget_tenants

    settings.TENANT_CACHE_SECONDS = 60
    forget_tenants()
    yield
    forget_tenants()


def personal_token_client(organization, user):
    from rest_framework.test import APIClient

    from integrations.tokens import create_token

    token, key = create_token(user, "poller", organization)
    client = APIClient(HTTP_HOST=organization.host)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, token


def test_a_status_poll_is_one_sql_statement(api, personas, make_job, warm_host_cache, django_assert_num_queries):
    # Token, user, job and the caller's right to see it are read by one statement (jobs/polling.py); the host's
    # organization is cached and the connection keeps its search_path — whatever the job holds and whoever asks,
    # with either kind of token.
    from jobs.job_log import log_event

    queued = make_job()
    busy = make_job(status="completed", result={"pages": list(range(50))})
    for n in range(20):
        log_event(busy, f"Step {n}.")
    own = make_job(user=personas.bob)
    cases = [(queued, personas.alice), (busy, personas.alice), (busy, personas.dana), (queued, personas.root)]
    cases.append((own, personas.bob))

    for job, user in cases:
        for client in (api(personas.alpha, user), personal_token_client(personas.alpha, user)[0]):
            assert client.get(f"/api/v1/jobs/{job.pk}").status_code == 200  # warms the host cache and the path
            with django_assert_num_queries(1):
                data = api_data(client.get(f"/api/v1/jobs/{job.pk}"))
            assert data["id"] == str(job.pk) and data["status"] == job.status


def test_a_status_poll_answers_exactly_as_the_ordinary_path_when_the_fast_one_finds_nothing(api, personas, make_job):
    from integrations.tokens import revoke_token

    alices = make_job()
    betas = make_job(organization=personas.beta, user=personas.charlie)
    url = f"/api/v1/jobs/{alices.pk}"

    # A member (Bob) may not see another member's job; another organization's member gets 404 from Alpha's host.
    api_error(api(personas.alpha, personas.bob).get(url), 404, "NOT_FOUND")
    api_error(api(personas.alpha, personas.charlie).get(url), 404, "NOT_FOUND")
    # Beta's job does not resolve through Alpha's host, even for its owner's token.
    api_error(api(personas.alpha, personas.charlie).get(f"/api/v1/jobs/{betas.pk}"), 404, "NOT_FOUND")
    api_error(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{betas.pk}"), 404, "NOT_FOUND")

    client, token = personal_token_client(personas.alpha, personas.alice)
    assert api_data(client.get(url))["id"] == str(alices.pk)
    token.refresh_from_db()
    assert token.last_used_at is not None, "the fast path records the token's use too"
    # The right prefix with a wrong secret, and a revoked token, are refused at once.
    forged = client.credentials(HTTP_AUTHORIZATION=f"Token qm_{token.prefix}_{'x' * 43}")
    assert forged is None and api_error(client.get(url), 401, "NOT_AUTHENTICATED")
    client, token = personal_token_client(personas.alpha, personas.alice)
    revoke_token(token)
    api_error(client.get(url), 401, "NOT_AUTHENTICATED")
    # An unknown DRF key, no credentials, and a deactivated user.
    stranger = api(personas.alpha)
    stranger.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    api_error(stranger.get(url), 401, "NOT_AUTHENTICATED")
    api_error(api(personas.alpha).get(url), 401, "NOT_AUTHENTICATED")
    client = api(personas.alpha, personas.alice)
    personas.alice.is_active = False
    personas.alice.save(update_fields=["is_active"])
    try:
        api_error(client.get(url), 401, "NOT_AUTHENTICATED")
    finally:
        personas.alice.is_active = True
        personas.alice.save(update_fields=["is_active"])


def test_a_browser_polls_with_its_session(web, personas, make_job):
    job = make_job()
    response = web(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}")
    assert response.status_code == 200 and response.json()["data"]["id"] == str(job.pk)
    assert web(personas.alpha, personas.bob).get(f"/api/v1/jobs/{job.pk}").status_code == 404


def test_the_status_endpoint_is_never_throttled(api, personas, make_job):
    job = make_job()
    client = api(personas.alpha, personas.alice)

    statuses = [client.get(f"/api/v1/jobs/{job.pk}").status_code for _ in range(100)]

    assert statuses == [200] * 100


# --- The list -------------------------------------------------------------------------------------


def test_the_list_pages_through_jobs_newest_first_twenty_at_a_time(api, personas, make_job):
    start = timezone.now() - timedelta(hours=1)
    jobs = [make_job(created_at=start + timedelta(seconds=n)) for n in range(25)]
    newest_first = [str(job.pk) for job in reversed(jobs)]
    client = api(personas.alpha, personas.alice)

    first = api_data(client.get("/api/v1/jobs"))
    second = api_data(client.get("/api/v1/jobs", {"page": 2}))
    small = api_data(client.get("/api/v1/jobs", {"page": 3, "per_page": 10}))
    beyond = api_data(client.get("/api/v1/jobs", {"page": 9}))

    assert (first["page"], first["per_page"], first["total"]) == (1, 20, 25)
    assert [job["id"] for job in first["jobs"]] == newest_first[:20]
    assert [job["id"] for job in second["jobs"]] == newest_first[20:]
    assert (small["page"], small["per_page"], small["total"]) == (3, 10, 25)
    assert [job["id"] for job in small["jobs"]] == newest_first[20:]
    assert beyond["jobs"] == [] and beyond["total"] == 25
    assert set(first["jobs"][0]) >= CONTRACT_FIELDS


def test_the_list_filters_by_status_and_job_type(api, personas, make_job):
    queued_extraction = make_job()
    failed_grading = make_job(job_type="grading", status="failed")
    completed_grading = make_job(job_type="grading", status="completed")
    client = api(personas.alpha, personas.alice)

    def ids(**query):
        data = api_data(client.get("/api/v1/jobs", query))
        assert data["total"] == len(data["jobs"])
        return {job["id"] for job in data["jobs"]}

    assert ids() == {str(queued_extraction.pk), str(failed_grading.pk), str(completed_grading.pk)}
    assert ids(status="failed") == {str(failed_grading.pk)}
    assert ids(job_type="grading") == {str(failed_grading.pk), str(completed_grading.pk)}
    assert ids(status="completed", job_type="grading") == {str(completed_grading.pk)}
    assert ids(status="completed", job_type="extraction") == set()


def test_empty_query_parameters_mean_no_filter_and_the_defaults(api, personas, make_job):
    # Clients of the earlier app send the contract's template as is: ?status=&job_type=&page=&per_page=
    jobs = [make_job(), make_job(job_type="grading", status="failed")]

    data = api_data(api(personas.alpha, personas.alice).get("/api/v1/jobs?status=&job_type=&page=&per_page="))

    assert (data["page"], data["per_page"], data["total"]) == (1, 20, 2)
    assert {job["id"] for job in data["jobs"]} == {str(job.pk) for job in jobs}


@pytest.mark.parametrize(
    "query, field",
    [
        ({"status": "done"}, "status"),
        ({"job_type": "ocr"}, "job_type"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": 101}, "per_page"),
    ],
)
def test_an_invalid_filter_is_a_400_validation_error_naming_the_field(api, personas, query, field):
    body = api_error(api(personas.alpha, personas.alice).get("/api/v1/jobs", query), 400, "VALIDATION_ERROR")
    assert field in body["details"]
    assert " " in body["error"]  # a sentence, not a bare code


# --- The result -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "processing", "failed", "cancelled"])
def test_the_result_is_a_409_until_the_job_has_completed(api, personas, make_job, status):
    job = make_job(status=status, progress=60)

    body = api_error(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}/result"), 409, "JOB_NOT_COMPLETED")

    assert status in body["error"]
    assert body["details"]["status"] == status


def test_the_result_of_a_completed_job_is_its_result_only(api, personas, make_job):
    job = make_job(status="completed", result={"quiz_id": 12, "submission_ids": [3, 4]})

    data = api_data(api(personas.alpha, personas.alice).get(f"/api/v1/jobs/{job.pk}/result"))

    assert data == {"quiz_id": 12, "submission_ids": [3, 4]}


def test_the_result_appears_once_the_job_completes(api, personas, make_job):
    job = make_job(status="processing")
    client = api(personas.alpha, personas.alice)
    assert client.get(f"/api/v1/jobs/{job.pk}/result").status_code == 409

    type(job).objects.filter(pk=job.pk).update(status="completed", result={"ok": True}, completed_at=timezone.now())

    assert api_data(client.get(f"/api/v1/jobs/{job.pk}/result")) == {"ok": True}


# --- Stats ----------------------------------------------------------------------------------------


def test_stats_count_by_status_and_type_and_time_the_completed_jobs(api, personas, make_job):
    now = timezone.now()
    for seconds in (10, 20, 30, 40):
        started = now - timedelta(minutes=10)
        make_job(
            status="completed",
            created_at=started - timedelta(seconds=5),
            started_at=started,
            completed_at=started + timedelta(seconds=seconds),
        )
    make_job(job_type="grading", status="failed", created_at=now - timedelta(hours=1))
    make_job(job_type="email", status="processing", created_at=now - timedelta(minutes=1))
    make_job(job_type="grading", created_at=now - timedelta(minutes=5))
    # Outside the 24 hour window, but still the oldest job waiting in the queue.
    make_job(job_type="grading", created_at=now - timedelta(days=2))
    make_job(status="completed", created_at=now - timedelta(hours=30), completed_at=now - timedelta(hours=29))

    stats = api_data(api(personas.alpha, personas.alice).get("/api/v1/jobs/stats"))

    assert stats["window_hours"] == 24
    assert stats["total"] == 7
    assert stats["by_status"] == {"queued": 1, "processing": 1, "completed": 4, "failed": 1, "cancelled": 0}
    assert stats["by_type"] == {"extraction": 4, "grading": 2, "email": 1, "scheme_import": 0}
    timing = stats["processing_time_seconds"]
    assert timing["completed_jobs"] == 4
    assert timing["avg"] == pytest.approx(25)
    assert timing["min"] == pytest.approx(10)
    assert timing["max"] == pytest.approx(40)
    assert timing["p95"] == pytest.approx(38.5)  # percentile_cont: 30 + 0.85 × (40 − 30)
    assert 2 * 86400 - 5 <= stats["oldest_queued_age_seconds"] <= 2 * 86400 + 60


def test_stats_take_a_window_in_hours(api, personas, make_job):
    now = timezone.now()
    make_job(status="completed", created_at=now - timedelta(hours=30), completed_at=now - timedelta(hours=29))
    client = api(personas.alpha, personas.alice)

    assert api_data(client.get("/api/v1/jobs/stats"))["by_status"]["completed"] == 0
    wide = api_data(client.get("/api/v1/jobs/stats", {"hours": 48}))
    assert wide["window_hours"] == 48
    assert wide["by_status"]["completed"] == 1
    api_error(client.get("/api/v1/jobs/stats", {"hours": 0}), 400, "VALIDATION_ERROR")


def test_stats_of_an_organization_without_jobs_are_zeros_and_nulls(api, personas):
    stats = api_data(api(personas.alpha, personas.alice).get("/api/v1/jobs/stats"))

    assert stats["total"] == 0
    assert set(stats["by_status"].values()) == {0}
    assert stats["processing_time_seconds"] == {
        "avg": None,
        "min": None,
        "max": None,
        "p95": None,
        "completed_jobs": 0,
    }
    assert stats["oldest_queued_age_seconds"] is None


def test_a_members_stats_count_only_their_own_jobs(api, personas, make_job):
    make_job(user=personas.bob)
    make_job(user=personas.alice)
    make_job(user=personas.dana, status="failed")

    assert api_data(api(personas.alpha, personas.bob).get("/api/v1/jobs/stats"))["total"] == 1
    assert api_data(api(personas.alpha, personas.alice).get("/api/v1/jobs/stats"))["total"] == 3


# --- Cancelling -----------------------------------------------------------------------------------


def test_deleting_a_queued_job_cancels_it(api, personas, make_job):
    from jobs.models import JobEvent

    job = make_job()

    data = api_data(api(personas.alpha, personas.alice).delete(f"/api/v1/jobs/{job.pk}"))

    assert data["id"] == str(job.pk)
    assert data["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and job.completed_at is not None
    assert JobEvent.objects.filter(job=job, message__startswith="Cancelled by alice@alpha.test").exists()


def test_deleting_a_processing_job_cancels_it_for_the_worker_to_notice(api, personas, make_job):
    job = make_job(status="processing", celery_task_id="task-1", progress=30)

    data = api_data(api(personas.alpha, personas.alice).delete(f"/api/v1/jobs/{job.pk}"))

    assert data["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled"


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_deleting_a_finished_job_is_a_409_and_changes_nothing(api, personas, make_job, status):
    job = make_job(status=status, result={"x": 1} if status == "completed" else None)

    body = api_error(api(personas.alpha, personas.alice).delete(f"/api/v1/jobs/{job.pk}"), 409, "JOB_ALREADY_FINISHED")

    assert body["details"]["status"] == status
    job.refresh_from_db()
    assert job.status == status


def test_a_member_may_cancel_their_own_job_but_not_anothers(api, personas, make_job):
    own = make_job(user=personas.bob)
    theirs = make_job(user=personas.alice)
    client = api(personas.alpha, personas.bob)

    assert api_data(client.delete(f"/api/v1/jobs/{own.pk}"))["status"] == "cancelled"
    api_error(client.delete(f"/api/v1/jobs/{theirs.pk}"), 404, "NOT_FOUND")
    theirs.refresh_from_db()
    assert theirs.status == "queued"
