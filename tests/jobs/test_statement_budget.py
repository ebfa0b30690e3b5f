"""How many SQL statements the AI worker sends for one extraction job and one grading job (issue #23: under a batch the
worker's Python work, each statement's included, queues behind the GIL). An AI worker as the Procfile starts it
(threads pool, database pool), wrapped to count every statement its connections send (tests/jobs/statement_counting.py),
consumes from a private Redis so that no other worker takes these jobs."""

from __future__ import annotations

import os

import pytest
import redis
from django.conf import settings

from tests.helpers import sheet, upload, wait_for_job, wait_until
from tests.jobs.statement_counting import counts_key
from tests.reliability.support import PrivateRedis, broker_at, forget_broker

pytestmark = [pytest.mark.worker]

# Statements a budget allows beyond the figure measured: tenant-schemas-celery looks an organization up again once its
# cache of it (30 s) has expired, so a job may or may not pay that one SELECT.
MARGIN = 2


def _script_pages(openai_server, learner: str) -> None:
    """The fake reads two pages of one learner (a name of the test's own, so each test creates its Student)."""
    first = {
        "student_name": learner,
        "standard": 3,
        "questions": [
            {
                "number": 1,
                "question": "What does duty of care mean?",
                "answer": "Keeping people safe from harm and acting in their best interests at all times.",
                "legibility": 0.9,
            }
        ],
    }
    second = {
        "student_name": learner,
        "standard": None,
        "questions": [
            {
                "number": 2,
                "question": "What should you do if someone complains?",
                "answer": "Listen, stay calm, write it down and tell my manager following the complaints procedure.",
                "legibility": 0.8,
            }
        ],
    }
    replies = [{"json": first, "when": "Page 1 of"}, {"json": second, "when": "Page 2 of"}]
    openai_server.script("PageExtraction", replies)


@pytest.fixture(scope="module")
def counting_worker(django_db_setup, django_db_blocker, fake_openai, tmp_path_factory):
    from tests.conftest import WorkerProcess, ai_env, worker_env

    server = PrivateRedis(tmp_path_factory.mktemp("counting-redis"))
    server.start()
    env = worker_env(ai_env(fake_openai) | {"CELERY_BROKER_URL": server.url, "DATABASE_POOL": "true"})
    worker = WorkerProcess(env, name=f"counting-{os.getpid()}", role="ai", entry="tests.jobs.statement_counting")
    try:
        with broker_at(server.url), django_db_blocker.unblock():
            worker.start()
            yield worker
    finally:
        worker.stop()
        server.stop()
        forget_broker(server.url)


def _counts() -> dict[str, int]:
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return {field: int(value) for field, value in client.hgetall(counts_key(settings.REDIS_KEY_PREFIX)).items()}


def _statements_for(start_jobs, tasks: int = 1) -> dict[str, int]:
    """The statements the worker sent for the jobs ``start_jobs()`` starts (their ids returned), by kind, counted
    from before they were started until their ``tasks`` tasks ended; the heartbeat thread's are left out."""
    before = _counts()
    for job_id in start_jobs():
        job = wait_for_job(job_id)
        assert job.status == "completed", job.error_message
    after = wait_until(
        lambda: (now := _counts()).get("tasks:ended", 0) >= before.get("tasks:ended", 0) + tasks and now,
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
    counting_worker, live_db, personas, api, openai_server
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

    extraction = _statements_for(read)
    grading = _statements_for(grade)
    print(f"extraction job: {extraction}\ngrading job: {grading}")
    assert extraction["SET"] == 1
    assert grading["SET"] == 1
    assert extraction["total"] <= 33 + MARGIN
    assert grading["total"] <= 47 + MARGIN


def test_an_upload_that_asks_for_grading_stays_within_its_statement_budget(
    counting_worker, live_db, personas, api, openai_server
):
    client = api(personas.alpha, personas.dana)
    _script_pages(openai_server, "Budget Onestep")

    def read_and_grade():
        read = wait_for_job(upload(client, *_pages(), grade="true")["job_id"])
        return [read.pk, read.result["grading_job_id"]]

    both = _statements_for(read_and_grade, tasks=2)
    print(f"extraction and grading jobs: {both}")
    assert both["SET"] == 2
    assert both["total"] <= 101 + MARGIN
