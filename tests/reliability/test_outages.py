"""Outages of the services QuizMarker depends on, against private servers (the shared PostgreSQL and Redis are never
touched):

* Redis (broker, cache, throttles) stopped while uploads keep arriving: every upload answered 202 completes once
  Redis is back (the sweeper, run by beat every minute, re-publishes what could not be sent); during the outage the
  answer is 202 or a clear 503 with Retry-After — never a 500 and never a lost job.
* PostgreSQL restarted while a worker runs: the same worker process goes on to complete later jobs.

Fast: a few seconds of outage. Long (RELIABILITY_FULL=1): Redis down ~30 s, PostgreSQL down ~10 s.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import schema_context

from grading.api import UploadThrottle
from grading.models import Submission
from jobs.housekeeping import sweep_queued_jobs
from tests.helpers import sheet, wait_for_job
from tests.reliability.support import (
    FULL,
    ROOT,
    broker_at,
    caches_at,
    full_only,
    record_figures,
    worker_on_private_redis,
)

pytestmark = [pytest.mark.worker]


# --- Redis ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_stack(celery_worker, tmp_path_factory):
    """A private Redis, and a worker that uses it as broker, cache and limiter."""
    # This process uses the private Redis only during each test (outage_client), not between them.
    with worker_on_private_redis(
        celery_worker, tmp_path_factory.mktemp("outage-redis"), "outage", stay=False, concurrency=2
    ) as stack:
        yield stack


def redis_outage(client, server, worker, outage_seconds: float) -> dict:
    answers: list[tuple[str, int, dict, dict]] = []  # (phase, status, body, headers)

    def send(phase: str) -> None:
        response = client.post("/api/v1/upload", {"files": [sheet("s05_std05_dkg_p1.png")]}, format="multipart")
        answers.append((phase, response.status_code, response.json(), dict(response.items())))

    for _ in range(2):
        send("before")
    server.stop()
    started = time.monotonic()
    while time.monotonic() - started < outage_seconds:
        send("during")
        time.sleep(0.3)
    server.start()
    for _ in range(2):
        send("after")

    # Beat runs the sweeper every minute; here it runs at once.
    with override_settings(JOB_SWEEP_AFTER_SECONDS=0):
        swept = sweep_queued_jobs()
    accepted = [body["data"]["job_id"] for _, status, body, _ in answers if status == 202]
    finished = {job_id: wait_for_job(job_id, timeout=120) for job_id in accepted}
    with schema_context("alpha"):
        per_job = Counter(
            str(u)
            for u in Submission.objects.filter(upload_job_id__in=accepted).values_list("upload_job_id", flat=True)
        )
    statuses = Counter((phase, status) for phase, status, _, _ in answers)
    unavailable = [(body, headers) for _, status, body, headers in answers if status == 503]
    return {
        "outage_seconds": round(outage_seconds, 1),
        "uploads": len(answers),
        "answered_202": sum(1 for _, s, _, _ in answers if s == 202),
        "answered_503": len(unavailable),
        "answered_5xx_other": sum(1 for _, s, _, _ in answers if s >= 500 and s != 503),
        "answered_other": sum(1 for _, s, _, _ in answers if s not in (202, 503) and s < 500),
        "during_202": statuses[("during", 202)],
        "during_503": statuses[("during", 503)],
        "re_published_by_sweeper": swept,
        "accepted_completed": sum(1 for job in finished.values() if job.status == "completed"),
        "accepted_lost_or_failed": sum(1 for job in finished.values() if job.status != "completed"),
        "duplicate_submissions": sum(n - 1 for n in per_job.values() if n > 1),
        "_unavailable": unavailable,
        "_answers": [(phase, status, body.get("code")) for phase, status, body, _ in answers],
        "_errors": {j: job.error_message for j, job in finished.items() if job.status != "completed"},
        "_worker_alive": worker.process.poll() is None,
    }


def check_redis(figures: dict) -> None:
    assert figures["answered_5xx_other"] == 0 and figures["answered_other"] == 0, figures["_answers"]
    for body, headers in figures["_unavailable"]:
        assert body["code"] == "SERVICE_UNAVAILABLE" and body["error"].endswith("."), body
        assert int(headers["Retry-After"]) > 0
    assert figures["accepted_lost_or_failed"] == 0, figures["_errors"]
    assert figures["accepted_completed"] == figures["answered_202"] >= 4
    assert figures["duplicate_submissions"] == 0
    assert figures["_worker_alive"]


@pytest.fixture
def outage_client(redis_stack, api, personas, live_db, monkeypatch, openai_server):
    server, worker = redis_stack
    # A high limit, so the burst is not throttled, but the throttle still reads and writes the (private) cache.
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": "100000/hour"})
    openai_server.configure(latency=0.1)
    if not server.running:
        server.start()
    with broker_at(server.url), override_settings(CACHES=caches_at(server.url)):
        yield api(personas.alpha, personas.dana), server, worker


def test_uploads_while_redis_is_down_for_seconds_are_202_or_503_and_every_202_completes(outage_client):
    if FULL:
        pytest.skip("the long variant runs instead")
    figures = redis_outage(*outage_client, outage_seconds=3)
    record_figures("redis_outage", {k: v for k, v in figures.items() if not k.startswith("_")})
    check_redis(figures)


@full_only
def test_uploads_while_redis_is_down_for_30_seconds_are_202_or_503_and_every_202_completes(outage_client):
    figures = redis_outage(*outage_client, outage_seconds=30)
    record_figures("redis_outage", {k: v for k, v in figures.items() if not k.startswith("_")})
    check_redis(figures)


# --- PostgreSQL -----------------------------------------------------------------------------------


class PrivatePostgres:
    """A pgserver PostgreSQL of this test's own (Unix socket in its data folder), with one organization migrated."""

    def __init__(self):
        import pgserver

        # pgserver logs "exiting ..." at INFO from an atexit hook, after pytest has closed the stream it captured
        # logging into: a "Logging error" traceback at the end of every run. Its warnings still show.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        self.pgserver = pgserver
        self.dir = Path(tempfile.mkdtemp(prefix="qmpg-", dir=ROOT / ".data"))
        self.server = pgserver.get_server(self.dir / "data", cleanup_mode=None)
        self.server.psql("CREATE DATABASE quizmarker;")
        self.url = self.server.get_uri("quizmarker")

    def stop(self) -> None:
        self.pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def query(self, sql: str) -> str:
        return subprocess.run(
            [str(Path(self.pgserver.__file__).parent / "pginstall" / "bin" / "psql"), self.url, "-At", "-c", sql],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def manage(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def postgres_stack(celery_worker, django_db_blocker):
    database = PrivatePostgres()
    env = dict(
        celery_worker.env,
        DATABASE_URL=database.url,
        REDIS_KEY_PREFIX=f"{settings.REDIS_KEY_PREFIX}pg",  # its own broker queues on the shared Redis
        QUIZMARKER_AI_PROVIDER="openai",
    )
    worker = None
    try:
        migrated = manage(env, "migrate_schemas", "--shared", "-v", "0")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        created = manage(
            env,
            "shell",
            "-c",
            "from organizations.models import User\n"
            "from organizations.services import create_organization\n"
            "owner = User.objects.create_user('owner@pg.test', 'not-used-here')\n"
            "create_organization(name='Restarted Postgres Ltd', slug='pgrestart', owner=owner, plan='pro')\n",
        )
        assert created.returncode == 0, created.stderr[-3000:]
        worker = type(celery_worker)(env, name=f"{celery_worker.name}-pg", concurrency=2)
        with django_db_blocker.unblock():
            _start_on_own_prefix(worker, env)
        yield database, worker, env
    finally:
        if worker is not None:
            worker.stop()
        database.cleanup()


def _start_on_own_prefix(worker, env) -> None:
    """Start the worker; this process's Celery app publishes under another prefix, so wait for its log instead of a
    ping."""
    worker.log_path.parent.mkdir(parents=True, exist_ok=True)
    worker.log_path.write_text("")
    original = worker.wait_ready
    worker.wait_ready = lambda timeout=60: _wait_for_log(worker, "ready.", timeout)
    try:
        worker.start()
    finally:
        worker.wait_ready = original


def _wait_for_log(worker, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited; see {worker.log_path}")
        if text in worker.log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the worker was not ready within {timeout} s; see {worker.log_path}")


def grade_quiz(env: dict, timeout: float = 120) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "grade_quiz",
            "--org",
            "pgrestart",
            "--standard",
            "5",
            "--timeout",
            str(int(timeout)),
            str(ROOT / "tests/fixtures/sheets/s05_std05_dkg_p1.png"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def postgres_restart(postgres_stack, openai_server, down_seconds: float, rounds: int) -> dict:
    database, worker, env = postgres_stack
    pid = worker.process.pid
    openai_server.configure(latency=0.1)
    first = grade_quiz(env)
    out, _ = first.communicate(timeout=150)
    assert first.returncode == 0, out[-3000:]

    in_flight_outcomes, in_flight_out = [], []
    for _ in range(rounds):
        openai_server.configure(latency=2.0)
        # This round's own job must be running when the database stops, not one left over from an earlier round.
        since = database.query("SELECT coalesce(max(created_at), 'epoch')::text FROM jobs_backgroundjob")
        running = grade_quiz(env, timeout=60)
        deadline = time.monotonic() + 60
        started = f"SELECT count(*) FROM jobs_backgroundjob WHERE status = 'processing' AND created_at > '{since}'"
        while database.query(started) == "0":
            assert time.monotonic() < deadline, "this round's job did not start"
            time.sleep(0.2)
        database.stop()
        time.sleep(down_seconds)
        database.start()
        openai_server.configure(latency=0.1)
        out, _ = running.communicate(timeout=180)
        in_flight_outcomes.append(running.returncode)
        in_flight_out.append(out[-1500:])

    later = grade_quiz(env)
    later_out, _ = later.communicate(timeout=150)
    rows = database.query("SELECT job_type || ':' || status FROM jobs_backgroundjob ORDER BY created_at").split()
    return {
        "restarts": rounds,
        "down_seconds": down_seconds,
        "worker_restarted": int(worker.process.poll() is not None or worker.process.pid != pid),
        "later_job_exit_code": later.returncode,
        "jobs": dict(Counter(rows)),
        "jobs_not_completed": sum(1 for row in rows if not row.endswith(":completed")),
        "in_flight_grade_quiz_exit_codes": in_flight_outcomes,
        "_later_out": later_out[-3000:],
        "_in_flight_out": in_flight_out,
        "_rows": rows,
    }


def check_postgres(figures: dict) -> None:
    assert figures["worker_restarted"] == 0
    assert figures["later_job_exit_code"] == 0, figures["_later_out"]
    assert figures["jobs_not_completed"] == 0, figures["_rows"]  # including the one in flight at the restart
    # grade_quiz, waiting on its job through the outage, carries on to grading once the database is back.
    assert figures["in_flight_grade_quiz_exit_codes"] == [0] * figures["restarts"], figures["_in_flight_out"]


def test_a_worker_recovers_from_a_postgresql_restart_without_being_restarted(postgres_stack, openai_server):
    if FULL:
        pytest.skip("the long variant runs instead")
    figures = postgres_restart(postgres_stack, openai_server, down_seconds=1, rounds=1)
    record_figures("postgres_restart", {k: v for k, v in figures.items() if not k.startswith("_")})
    check_postgres(figures)


@full_only
def test_a_worker_recovers_from_repeated_postgresql_outages_without_being_restarted(postgres_stack, openai_server):
    figures = postgres_restart(postgres_stack, openai_server, down_seconds=10, rounds=3)
    record_figures("postgres_restart", {k: v for k, v in figures.items() if not k.startswith("_")})
    check_postgres(figures)
