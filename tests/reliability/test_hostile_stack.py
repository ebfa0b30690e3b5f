"""`make reliability`'s hostile-file section (a short variant runs in `make test`): a running stack — the web server as
`make run` starts it (runserver) and the AI worker on threads, as in the Procfile — is sent the hostile files of
scripts/make_bad_inputs.py over HTTP, and a deflate bomb is also put straight into a job as if it had got past the
upload check. Afterwards both processes still serve (the web answers, the worker completes an ordinary upload), and
the peak memory (VmHWM) of each is recorded for scripts/reliability.py's table.

Fast: each file once. Long (RELIABILITY_FULL=1): three clients send every file at the same time, three rounds.
HOSTILE_STACK_ROOT=<another checkout> runs the stack from that code instead (to measure an older version the same
way; its answers are then recorded, not asserted).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path

import pytest

from tests.helpers import SHEETS, api_key
from tests.reliability.support import FULL, ROOT, record_figures

pytestmark = [pytest.mark.worker]

CORPUS = ROOT / "tests" / "fixtures" / "bad_inputs"
STACK_ROOT = Path(os.environ.get("HOSTILE_STACK_ROOT") or ROOT)
OTHER_CODE = STACK_ROOT.resolve() != ROOT.resolve()
# file -> the answer this code gives
HOSTILE = {
    "deflate-bomb.pdf": 413,
    "huge-page.pdf": 202,
    "bomb.png": 413,
    "huge-20000x20000.png": 413,
    "photo-with-location.jpg": 202,
}
INJECT = """
import hashlib, io
from django_tenants.utils import schema_context
from grading.services import accept_upload
from grading.uploads import CheckedFile
from organizations.models import Organization, User
bomb = open({path!r}, "rb").read()
sha = hashlib.sha256(bomb).hexdigest()
item = CheckedFile("bomb.pdf", "application/pdf", "pdf", 1, sha, len(bomb), io.BytesIO(bomb))
with schema_context("alpha"):
    job = accept_upload(organization=Organization.objects.get(slug="alpha"), user=User.objects.get(email={email!r}),
                        files=[item])
print(job.pk)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stack:
    def __init__(self, env: dict, host: str, token: str):
        self.env, self.host, self.token = env, host, token
        self.port = _free_port()
        logs = ROOT / ".data"
        logs.mkdir(exist_ok=True)
        self.log = (logs / f"hostile-stack-{os.getpid()}.log").open("ab")
        common = {"cwd": STACK_ROOT, "env": env, "stdout": self.log, "stderr": subprocess.STDOUT}
        self.web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            start_new_session=True,
            **common,
        )
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "quizmarker", "worker", "-Q", "high,default,low", "--pool"]
            + ["threads", "--concurrency", "8", "-n", f"hostile{os.getpid()}@%h", "--without-gossip"]
            + ["--without-mingle", "-l", "info"],
            start_new_session=True,
            **common,
        )

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout=300):
        conn = HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Host": self.host, **self._auth(), **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            try:
                return response.status, json.loads(data)
            except ValueError:
                return response.status, {}
        except OSError as exc:  # a server that died or dropped the connection
            return 0, {"error": repr(exc)}
        finally:
            conn.close()

    def _auth(self) -> dict:
        return {"Authorization": f"Token {self.token}"}

    def upload(self, name: str, data: bytes) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request(
            "POST", "/api/v1/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )

    def serving(self) -> bool:
        return self.request("GET", "/api/v1/standards", timeout=30)[0] == 200

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None or self.worker.poll() is not None:
                raise RuntimeError(f"the stack exited; see {self.log.name}")
            if self.serving():
                return
            time.sleep(0.3)
        raise RuntimeError(f"the web server did not answer within {timeout} s; see {self.log.name}")

    def wait_job(self, job_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        status = "unknown"
        while time.monotonic() < deadline:
            code, body = self.request("GET", f"/api/v1/jobs/{job_id}", timeout=30)
            status = body.get("data", {}).get("status", f"http {code}")
            if status in ("completed", "failed", "cancelled"):
                return status
            time.sleep(0.5)
        return f"still {status} after {timeout:.0f} s"

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process.poll() is None:
                process.terminate()
        for process in (self.web, self.worker):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        self.log.close()


@pytest.fixture
def stack(celery_worker, live_db, personas):
    key = api_key(personas.bob, personas.alpha)
    # A Redis prefix of its own: the session's worker must not take this stack's jobs.
    # One user sends every file: the per-user upload rate would answer 429 long before the long variant's 46 uploads.
    env = dict(
        celery_worker.env,
        REDIS_KEY_PREFIX=f"{celery_worker.env['REDIS_KEY_PREFIX']}h",
        DEBUG="false",
        THROTTLE_UPLOAD="100000/hour",
    )
    running = Stack(env, personas.alpha.host, key)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_hostile_files_cost_neither_the_web_server_nor_the_worker_their_memory_or_their_life(stack, personas):
    clients, rounds = (3, 3) if FULL else (1, 1)
    files = {name: (CORPUS / name).read_bytes() for name in HOSTILE}
    answers: dict[str, list[int]] = {name: [] for name in HOSTILE}
    accepted: list[str] = []
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(rounds):
            jobs = [pool.submit(stack.upload, name, data) for name, data in files.items() for _ in range(clients)]
            for (name, _), future in zip([(n, c) for n in files for c in range(clients)], jobs, strict=True):
                status, body = future.result()
                answers[name].append(status)
                if status == 202:
                    accepted.append(body["data"]["job_id"])
    injected = ""
    if not OTHER_CODE:  # a bomb that got past the upload check somehow: the worker opens it in its sandbox
        script = INJECT.format(path=str(CORPUS / "deflate-bomb.pdf"), email=personas.bob.email)
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        injected = out.stdout.strip().splitlines()[-1]
    outcomes = [stack.wait_job(job_id, timeout=120 if FULL else 90) for job_id in accepted + [injected] if job_id]
    status, body = stack.upload("sheet.png", (SHEETS / "s05_std05_dkg_p1.png").read_bytes())
    after = stack.wait_job(body["data"]["job_id"], timeout=90) if status == 202 else f"upload answered {status}"
    web_alive, worker_alive = stack.web.poll() is None, stack.worker.poll() is None
    figures = {
        "code": "other checkout" if OTHER_CODE else "this checkout",
        "web_peak_rss_mb": round(peak_rss_mb(stack.web.pid)) if web_alive else "died",
        "worker_peak_rss_mb": round(peak_rss_mb(stack.worker.pid)) if worker_alive else "died",
        "answers": {name: sorted(set(codes)) for name, codes in answers.items()},
        "hostile_jobs": dict(sorted({o: outcomes.count(o) for o in outcomes}.items())),
        "web_still_serves": web_alive and stack.serving(),
        "worker_completes_an_ordinary_upload_after": after,
    }
    record_figures("hostile_files", figures)
    if OTHER_CODE:
        return
    assert answers == {name: [code] * clients * rounds for name, code in HOSTILE.items()}
    assert outcomes == ["completed"] * len(outcomes)  # the injected bomb too: its page is left for a person
    assert (figures["web_still_serves"], after) == (True, "completed")
    assert figures["web_peak_rss_mb"] < 400 and figures["worker_peak_rss_mb"] < 600, figures
