"""The pieces of a `make bench` stack: the processes (fake AI server, web server, workers) on free ports, the
benchmark's database and organizations, an API client, and what a process costs (CPU seconds, memory)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import devstack  # noqa: E402

from quizmarker.queues import ALL  # noqa: E402

EVERY_QUEUE = ",".join(ALL)  # a bench worker takes every queue's tasks

PY = sys.executable
BIN = Path(PY).parent
SHEET = ROOT / "tests" / "fixtures" / "sheets" / "s05_std05_dkg_p1.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


class Stack:
    """The processes of one benchmark run; everything is stopped on exit."""

    def __init__(self, args):
        self.args = args
        self.procs: list[subprocess.Popen] = []
        self.web_port = free_port()
        self.ai_port = free_port()
        self.logs = ROOT / ".data" / "bench"
        self.logs.mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen | None = None) -> None:
        for p in [proc] if proc else list(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            if p in self.procs:
                self.procs.remove(p)


def connect(env: dict, database: str | None = None, **options):
    """A psycopg connection to the bench database (``env``'s DATABASE_URL), or to another ``database`` on its server.
    psycopg takes postgresql:// URLs, where DATABASE_URL may say postgres://."""
    import psycopg

    url = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    if database:
        url = f"{url.rsplit('/', 1)[0]}/{database}"
    return psycopg.connect(url, **options)


def query(env: dict, sql: str, params: list) -> list[tuple]:
    """The rows of one query against the bench database."""
    with connect(env) as conn:
        return conn.execute(sql, params).fetchall()


def prepare(args, database: str = "quizmarker_bench") -> dict:
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    os.environ["REDIS_KEY_PREFIX"] = f"qmbench{os.getpid()}"
    env = devstack.prepare_environment()
    base = env["DATABASE_URL"].rsplit("/", 1)[0]
    env["DATABASE_URL"] = f"{base}/{database}"
    with connect(env, database="postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    env.update(
        {
            "MEDIA_ROOT": str(ROOT / ".data" / "bench-media"),
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "warning",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "QUIZMARKER_AI_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_TIMEOUT": "30",
            "AI_MAX_CONCURRENT_CALLS": str(args.concurrency),
            "AI_MAX_CALLS_PER_MINUTE": "100000",
            "DATABASE_CONN_MAX_AGE": "600",
            # One bench user makes far more requests than a person: per-user throttles would measure themselves.
            "THROTTLE_UPLOAD": "100000/hour",
            "THROTTLE_GRADE": "100000/hour",
        }
    )
    subprocess.run([PY, "manage.py", "migrate_schemas", "--shared", "-v0"], cwd=ROOT, env=env, check=True)
    setup = (
        "from organizations.models import User, Organization;"
        "from organizations.services import create_organization;"
        "from integrations.tokens import create_token;"
        "u = User.objects.create_user('bench@bench.test', None);"
        "o = create_organization(name='Bench', slug='bench', owner=u, plan='enterprise');"
        "o.notify_on_grading_complete = False; o.save();"
        "t = create_token(u, 'bench', o)[1];"
        # A second organization (the fairness case's B), with its own user and token.
        "v = User.objects.create_user('other@bench.test', None);"
        "p = create_organization(name='Other', slug='other', owner=v, plan='enterprise');"
        "p.notify_on_grading_complete = False; p.save();"
        "print(t); print(create_token(v, 'bench', p)[1])"
    )
    out = (
        subprocess.run(
            [PY, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()
    )
    env["BENCH_TOKEN"], env["BENCH_TOKEN_OTHER"] = out[-2], out[-1]
    return env


class Client:
    def __init__(self, port: int, token: str, organization: str = "bench"):
        self.port = port
        self.headers = {"Host": f"{organization}.localhost:{port}", "Authorization": f"Token {token}"}
        self.local = threading.local()

    def _conn(self) -> HTTPConnection:
        if not hasattr(self.local, "conn"):
            self.local.conn = HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.local.conn

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        for attempt in range(2):
            try:
                conn = self._conn()
                conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
                response = conn.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else None
            except (ConnectionError, OSError):
                del self.local.conn
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def upload(self, files: list[bytes], grade: bool = False) -> tuple[int, dict]:
        boundary = secrets.token_hex(12)
        parts = io.BytesIO()
        for i, data in enumerate(files):
            parts.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="p{i}.png"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n".encode()
            )
            parts.write(data + b"\r\n")
        fields = {"standard_id": "5"} | ({"grade": "true"} if grade else {})
        for name, value in fields.items():
            parts.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.write(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST", "/api/v1/upload", parts.getvalue(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )

    def wait(self, job_id: str, timeout: float = 900, poll: float = 0.25) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.request("GET", f"/api/v1/jobs/{job_id}")
            job = body["data"]
            if job["status"] in ("completed", "failed", "cancelled"):
                return job
            time.sleep(poll)  # a real client polls every 2 s; here 0.25 s, or the polling would be measured
        raise RuntimeError(f"job {job_id} did not finish")


def cpu_seconds(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    """User + system CPU seconds used so far by each spawned process and its children (pool processes)."""
    import psutil

    used = {}
    for name, proc in procs.items():
        try:
            root = psutil.Process(proc.pid)
            total = 0.0
            for p in [root, *root.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
            used[name] = total
        except psutil.NoSuchProcess:
            used[name] = 0.0
    return used


def memory_mb(proc: subprocess.Popen) -> float:
    """Proportional set size of a process and its children, MB (shared pages split between those sharing them)."""
    import psutil

    root = psutil.Process(proc.pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_full_info().pss
    return total / 1048576


def ai_stats(port: int) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_control/stats").read())  # noqa: S310


def ai_control(port: int, action: str, body: dict) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_control/{action}", method="POST", data=json.dumps(body).encode()
    )
    urllib.request.urlopen(request).read()  # noqa: S310


def start_worker(stack: Stack, env: dict, mode: str, pool: str = "threads", threads: int = 24) -> subprocess.Popen:
    """A Celery worker on every queue, named bench-<mode>; ``sequential`` imitates the earlier system (one job, one
    page at a time, 2 s between AI calls), otherwise ``pool`` with ``threads`` jobs at once."""
    worker_env = dict(env)
    if mode == "sequential":
        worker_env.update(
            {"EXTRACTION_PAGE_CONCURRENCY": "1", "GRADING_SCRIPT_CONCURRENCY": "1", "AI_MIN_SECONDS_BETWEEN_CALLS": "2"}
        )
        concurrency = "1"
    else:
        concurrency = str(threads)
    proc = stack.spawn(
        f"worker-{mode}",
        [
            str(BIN / "celery"),
            "-A",
            "quizmarker",
            "worker",
            "-Q",
            EVERY_QUEUE,
            "--concurrency",
            concurrency,
            "--pool",
            pool if mode != "sequential" else "prefork",
            "-n",
            f"bench-{mode}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        worker_env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ping = subprocess.run(
            [
                str(BIN / "celery"),
                "-A",
                "quizmarker",
                "inspect",
                "ping",
                "-d",
                f"bench-{mode}@{socket.gethostname()}",
                "-t",
                "1",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if "pong" in ping.stdout:
            return proc
        time.sleep(0.5)
    raise SystemExit("the worker did not start; see .data/bench/")
