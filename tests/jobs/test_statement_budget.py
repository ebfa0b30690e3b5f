"""How many SQL statements the AI worker sends for one extraction job and one grading job (issue #23: under a batch the
worker's Python work, each statement's included, queues behind the GIL). An AI worker as the Procfile starts it
(threads pool, database pool), wrapped to count every statement its connections send (tests/jobs/statement_counting.py),
consumes from a private Redis (its broker, and where it counts) so that no other worker takes these jobs."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from tests.helpers import sheet, upload, wait_for_job, wait_until
from tests.jobs.statement_counting import counts_key
from tests.reliability.support import worker_on_private_redis

pytestmark = [pytest.mark.worker]

# Statements a budget allows beyond the figure measured: tenant-schemas-celery looks an organization up again once its
# cache of it (30 s) has expired, so a job may or may not pay that one SELECT.
MARGIN = 2


def _page(learner: str, standard: int | None, number: int, question: str, answer: str) -> dict:
    question_read = {"number": number, "question": question, "answer": answer, "legibility": 0.9}
    return {"student_name": learner, "standard": standard, "questions": [question_read]}


def _script_pages(openai_server, learner: str) -> None:
    """The fake reads two pages of one learner (a name of the test's own, so each test creates its Student)."""
    first = _page(learner, 3, 1, "What does duty of care mean?", "Keeping people safe and acting in their interests.")
    second = _page(learner, None, 2, "What should you do if someone complains?", "Listen and tell my manager.")
    openai_server.script(
        "PageExtraction", [{"json": first, "when": "Page 1 of"}, {"json": second, "when": "Page 2 of"}]
    )


@pytest.fixture(scope="module")
def counting_redis(celery_worker, django_db_blocker, tmp_path_factory):
    """The URL of the private Redis the counting worker uses as its broker and for its counts."""
    options = {"role": "ai", "entry": "tests.jobs.statement_counting", "env": {"DATABASE_POOL": "true"}}
    folder = tmp_path_factory.mktemp("counting-redis")
    with (
        django_db_blocker.unblock(),
        worker_on_private_redis(celery_worker, folder, "counting", **options) as (server, _),
    ):
        yield server.url


def _counts(redis_url: str) -> dict[str, int]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return {field: int(value) for field, value in client.hgetall(counts_key(settings.REDIS_KEY_PREFIX)).items()}


def _statements_for(redis_url: str, start_jobs, tasks: int = 1) -> dict[str, int]:
    """The statements the worker sent for the jobs ``start_jobs()`` starts (their ids returned), by kind, counted
    from before they were started until their ``tasks`` tasks ended; the heartbeat thread's are left out."""
    before = _counts(redis_url)
    for job_id in start_jobs():
        job = wait_for_job(job_id)
        assert job.status == "completed", job.error_message
    after = wait_until(
        lambda: (now := _counts(redis_url)).get("tasks:ended", 0) >= before.get("tasks:ended", 0) + tasks and now,
        what="the jobs' tasks to end",
    )
    counted = {
        field.removeprefix("job:"): after[field] - before.get(field, 0)
        for field in sorted(after)
        if field.startswith("job:") and after[field] != before.get(field, 0)
    }
    return counted | {"total": sum(n for kind, n in counted.items() if kind != "BEGIN")}


def _pages():
    return sheet("s03_std03_rufscript_p1_phone.jpg"), sheet("s03_std03_rufscript_p2_phone.jpg")


def test_an_extraction_job_and_a_grading_job_stay_within_their_statement_budgets(
    counting_redis, live_db, personas, api, openai_server
):
    client = api(personas.alpha, personas.dana)
    _script_pages(openai_server, "Budget Twostep")
    upload_id = None

    def read():
        nonlocal upload_id
        upload_id = upload(client, *_pages())["job_id"]
        return [upload_id]

    def grade():
        response = client.post("/api/v1/grade", {"upload_job_id": upload_id, "standard_id": 3}, format="json")
        assert response.status_code == 202, response.json()
        return [response.json()["data"]["job_id"]]

    extraction = _statements_for(counting_redis, read)
    grading = _statements_for(counting_redis, grade)
    print(f"extraction job: {extraction}\ngrading job: {grading}")
    assert (extraction["SET"], grading["SET"]) == (1, 1)
    assert (extraction["BEGIN"], grading["BEGIN"]) == (1, 1), "one transaction each: its records with its completion"
    assert extraction["total"] <= 31 + MARGIN
    assert grading["total"] <= 42 + MARGIN


def test_an_upload_that_asks_for_grading_stays_within_its_statement_budget(
    counting_redis, live_db, personas, api, openai_server
):
    client = api(personas.alpha, personas.dana)
    _script_pages(openai_server, "Budget Onestep")

    def read_and_grade():
        read = wait_for_job(upload(client, *_pages(), grade="true")["job_id"])
        return [read.pk, read.result["grading_job_id"]]

    both = _statements_for(counting_redis, read_and_grade, tasks=2)
    print(f"extraction and grading jobs: {both}")
    assert both["SET"] == 2
    assert both["BEGIN"] == 2
    assert both["total"] <= 93 + MARGIN
