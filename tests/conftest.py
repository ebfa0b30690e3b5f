"""Shared test set-up: real PostgreSQL and Redis, tenants created once per session, personas, and a real Celery
worker for the tests that need one.

Personas (healthchecks-style):
    alice   owner of Alpha            bob     assessor (member) of Alpha
    dana    admin of Alpha            charlie owner of Beta — an outsider to Alpha
    root    super admin, member of nothing
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from quizmarker import queues
from tests.helpers import enrol_totp, mail_dir

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"


@dataclass
class Personas:
    alpha: object
    beta: object
    alice: object
    bob: object
    dana: object
    charlie: object
    root: object


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Create and migrate this run's test database, then the tenants, once for the session.

    (pytest-django's own fixture only sets up a database when some collected test uses its `db` fixtures; tests
    that need a real worker use `live_db` instead, so the database is always set up here.)"""
    from allauth.account.models import EmailAddress
    from django.test.utils import setup_databases, teardown_databases

    from organizations.models import Membership, Role, User
    from organizations.services import create_organization

    with django_db_blocker.unblock():
        db_config = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
        alice = User.objects.create_user("alice@alpha.test", PASSWORD, full_name="Alice Owner")
        bob = User.objects.create_user("bob@alpha.test", PASSWORD, full_name="Bob Assessor")
        dana = User.objects.create_user("dana@alpha.test", PASSWORD, full_name="Dana Admin")
        charlie = User.objects.create_user("charlie@beta.test", PASSWORD, full_name="Charlie Outsider")
        root = User.objects.create_superuser("root@quizmarker.test", PASSWORD, full_name="Root Admin")
        enrol_totp(root)  # super admins use the site only with a second factor (StaffTwoFactorMiddleware)
        alpha = create_organization(name="Alpha Care Training", slug="alpha", owner=alice, plan="pro")
        beta = create_organization(name="Beta Care Academy", slug="beta", owner=charlie, plan="free")
        beta.ai_provider = "local"
        beta.save(update_fields=["ai_provider"])
        Membership.objects.create(user=bob, organization=alpha, role=Role.MEMBER)
        Membership.objects.create(user=dana, organization=alpha, role=Role.ADMIN)
        for user in (alice, bob, dana, charlie):  # they confirmed their addresses (tokens and invitations need it)
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    yield
    with django_db_blocker.unblock():
        teardown_databases(db_config, verbosity=0)


@pytest.fixture(scope="session")
def personas(django_db_setup, django_db_blocker) -> Personas:
    """The session's people and organizations (tests still need `db` or `live_db` to touch the database)."""
    from organizations.models import Organization, User

    with django_db_blocker.unblock():
        users = {u.email.split("@")[0]: u for u in User.objects.all()}
        orgs = {o.slug: o for o in Organization.objects.all()}
    return Personas(
        alpha=orgs["alpha"],
        beta=orgs["beta"],
        alice=users["alice"],
        bob=users["bob"],
        dana=users["dana"],
        charlie=users["charlie"],
        root=users["root"],
    )


@pytest.fixture(autouse=True)
def _public_schema_around_each_test():
    """A request through the test client leaves the connection in the tenant's schema: start and end in public."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture(scope="session", autouse=True)
def _fresh_mail_dir():
    """The workers' emails of this run only (a run reusing REDIS_KEY_PREFIX would otherwise count earlier ones)."""
    import shutil

    shutil.rmtree(mail_dir(), ignore_errors=True)
    yield


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters are real (Redis); each test starts with none of this run's."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match=f"*:{settings.REDIS_KEY_PREFIX}:*throttle_*", count=1000):
        client.delete(key)
    yield


@pytest.fixture
def host():
    def _host(organization=None) -> str:
        return organization.host if organization is not None else settings.BASE_DOMAIN

    return _host


@pytest.fixture
def web():
    """A browser-like client for an organization's host, optionally signed in."""

    def _web(organization=None, user=None) -> Client:
        client = Client(HTTP_HOST=organization.host if organization else settings.BASE_DOMAIN)
        if user is not None:
            client.force_login(user)
        return client

    return _web


@pytest.fixture
def api():
    """An API client for an organization's host, authenticated with a token of the user's made for that host."""
    from tests.helpers import api_key

    def _api(organization, user=None) -> APIClient:
        client = APIClient(HTTP_HOST=organization.host)
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user, organization)}")
        return client

    return _api


# --- A real Celery worker ---------------------------------------------------------------------


class WorkerProcess:
    def __init__(
        self,
        env: dict[str, str],
        name: str,
        concurrency: int = 2,
        pool: str = "prefork",
        queues: str = ",".join(queues.ALL),
        host: str = "%h",
        role: str | None = None,
        arguments: tuple[str, ...] = (),
        entry: str = "quizmarker.worker",
    ):
        """``host``: the part of the node name after the @ (this machine's name by default; another name stands for
        a worker on another host). ``role``: start it as the Procfile does (`python -m quizmarker.worker ROLE`), with
        that role's queues, pool and concurrency instead of the ones given here. ``arguments``: more for the worker,
        after the others (so they win). ``entry``: the module a ``role`` worker is started with (a test's own wrapper
        of quizmarker.worker, say)."""
        self.env = env
        self.entry = entry
        self.role = role
        self.arguments = arguments
        self.name = name
        self.host = host
        self.queues = queues
        self.concurrency = concurrency
        self.pool = pool
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / ".data" / f"{name}.log"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        if self.role:
            command = [self.entry, self.role]
        else:
            command = ["celery", "-A", "quizmarker", "worker", "-Q", self.queues, "--pool", self.pool]
            command += ["--concurrency", str(self.concurrency), "-l", "info"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command, "-n", f"{self.name}@{self.host}", "--without-gossip", "--without-mingle"]
            + list(self.arguments),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        from quizmarker.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited; see {self.log_path}")
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(f"{self.name}@") for reply in replies for name in reply):
                return
        raise RuntimeError(f"The Celery worker did not answer within {timeout} s; see {self.log_path}")

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        """Stop the worker (warm shutdown), killing its process group if it does not stop within 20 s."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the worker's whole process group at once (an OOM kill, a lost machine)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The worker sees the test database, the test run's Redis prefix and media folder, and captures email."""
    env = dict(os.environ)
    db = settings.DATABASES["default"]
    host = db["HOST"] or "127.0.0.1"
    from urllib.parse import quote

    env.update(
        {
            "DATABASE_URL": f"postgres://{quote(db['USER'] or 'postgres')}:{quote(db['PASSWORD'] or '')}@"
            f"{quote(host, safe='')}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "QUIZMARKER_TESTING": "true",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mail_dir()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def fake_openai():
    """The outside world: an OpenAI-compatible server on loopback that the real openai client talks to."""
    from tests.fakeopenai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def openai_server(fake_openai):
    """The fake, reset for this test."""
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@pytest.fixture
def openai_provider(openai_server, settings):
    """The real OpenAI provider, talking to the fake server (no retries, a short timeout)."""
    from grading.providers.openai_provider import OpenAIProvider

    settings.OPENAI_BASE_URL = openai_server.base_url
    settings.OPENAI_API_KEY = "sk-test-not-a-real-key"
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_TIMEOUT = 5
    return OpenAIProvider()


def ai_env(fake) -> dict[str, str]:
    return {
        "QUIZMARKER_AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_TIMEOUT": "5",
        "OPENAI_MAX_RETRIES": "1",
        "JOB_RETRY_BACKOFF_BASE": "0.5",
        "JOB_RETRY_BACKOFF_MAX": "2",
    }


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, fake_openai):
    """One real worker for the session, on the test database, with the AI provider pointed at the fake server:
    organization alpha grades with `openai` (the fake), beta with `local` (offline OCR)."""
    worker = WorkerProcess(worker_env(ai_env(fake_openai)), name=f"qmtest{os.getpid()}")
    with django_db_blocker.unblock():
        worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def live_db(django_db_setup, django_db_blocker):
    """Committed database access (autocommit), for tests whose data a worker process must see."""
    with django_db_blocker.unblock():
        yield


# --- The web server as `make run` starts it (gunicorn with uvicorn workers: ASGI) ---------------


class WebServer:
    """The Procfile's `web` line, run on a free port against the test database and Redis prefix."""

    def __init__(self, env: dict[str, str]):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PORT": str(self.port), "WEB_CONCURRENCY": "1"}
        self.log_path = ROOT / ".data" / f"web-{os.getpid()}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        import urllib.request

        line = next(row for row in (ROOT / "Procfile").read_text().splitlines() if row.startswith("web:"))
        bin_dir = str(Path(sys.executable).parent)
        env = {**self.env, "PATH": f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["sh", "-c", line.split(":", 1)[1].strip()],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The web server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"The web server did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker):
    """One ASGI web server for the session (tests that stream events or scrape /metrics over real HTTP)."""
    server = WebServer(worker_env({"METRICS_ALLOWED_IPS": "127.0.0.1"}))
    with django_db_blocker.unblock():
        server.start()
    yield server
    server.stop()
