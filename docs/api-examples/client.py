"""QuizMarker API with Python and requests: authenticate, upload, wait (polling, or a webhook), grade, fetch results.

    pip install requests
    QM_URL=https://demo.quizmarker.example QM_TOKEN=qm_... python client.py answers.pdf --standard 11

QM_URL is your organization's address (development: http://demo.localhost:8000). When it is an IP address, set
QM_HOST to the organization's host name (e.g. QM_URL=http://127.0.0.1:8000 QM_HOST=demo.localhost). QM_TOKEN is an
API token from Account → API tokens.

Instead of polling, register a webhook endpoint (Settings → Webhooks) or pass ``callback_url`` to ``upload``; check
every message with :func:`verify_signature` (see :func:`serve_webhooks`).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import requests


class QuizMarkerError(Exception):
    def __init__(self, body: dict):
        super().__init__(f"{body.get('code')}: {body.get('error')}")
        self.code = body.get("code")
        self.details = body.get("details") or {}


class QuizMarker:
    def __init__(self, url: str, token: str, host: str | None = None):
        self.url = url.rstrip("/") + "/api/v1/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        if host:
            self.session.headers["Host"] = host

    def call(self, method: str, path: str, **kwargs):
        """One API call; returns the envelope's ``data`` or raises QuizMarkerError with the machine code."""
        response = self.session.request(method, self.url + path, timeout=60, **kwargs)
        body = response.json()
        if not body.get("success"):
            if response.status_code == 429:  # throttled: wait as told and try again
                time.sleep(int(response.headers.get("Retry-After", "30")))
                return self.call(method, path, **kwargs)
            raise QuizMarkerError(body)
        return body["data"]

    def standards(self) -> list[dict]:
        return self.call("GET", "standards")

    def upload(self, paths: list[Path], standard_id: int | None = None, callback_url: str | None = None) -> str:
        files = [("files", (path.name, path.read_bytes())) for path in paths]
        fields = {k: v for k, v in {"standard_id": standard_id, "callback_url": callback_url}.items() if v}
        return self.call("POST", "upload", files=files, data=fields)["job_id"]

    def wait(self, job_id: str, timeout: float = 600, every: float = 2.0) -> dict:
        """Poll the job (never throttled) until it has finished; returns the job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"jobs/{job_id}")
            print(f"  job {job_id}: {job['status']} {job['progress']}% {job['current_step']}", file=sys.stderr)
            if job["status"] == "completed":
                return job
            if job["status"] in ("failed", "cancelled"):
                raise RuntimeError(f"Job {job_id} {job['status']}: {job.get('error')}")
            time.sleep(every)
        raise TimeoutError(f"Job {job_id} did not finish within {timeout} s")

    def grade(self, upload_job_id: str, standard_id: int | None = None) -> str:
        body = {"upload_job_id": upload_job_id}
        if standard_id:
            body["standard_id"] = standard_id
        return self.call("POST", "grade", json=body)["job_id"]

    def submission(self, submission_id: str) -> dict:
        return self.call("GET", f"submissions/{submission_id}")


# --- Webhooks: the alternative to polling -----------------------------------------------------------


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """Check ``X-QuizMarker-Signature: t=<unix>,v1=<hex>`` over the raw body; reject old (replayed) messages."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def serve_webhooks(port: int, secret: str, on_event) -> None:
    """A minimal receiver: verifies each message, calls ``on_event(event)`` and answers 204 (any 2xx will do;
    anything else, or no answer within 10 s, is retried for a day). Deduplicate on ``event["id"]``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not verify_signature(secret, self.headers.get("X-QuizMarker-Signature", ""), body):
                self.send_response(400)
                self.end_headers()
                return
            on_event(json.loads(body))
            self.send_response(204)
            self.end_headers()

    HTTPServer(("", port), Handler).serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="photos or PDFs of answer sheets")
    parser.add_argument("--standard", type=int, help="the Care Certificate standard they answer (1-15)")
    args = parser.parse_args(argv)
    client = QuizMarker(os.environ["QM_URL"], os.environ["QM_TOKEN"], os.environ.get("QM_HOST"))

    print("1. Authenticate:", len(client.standards()), "standards available", file=sys.stderr)
    upload_job = client.upload(args.files, standard_id=args.standard)
    print("2. Uploaded; job", upload_job, file=sys.stderr)
    client.wait(upload_job)
    print("3. Read. 4. Grading...", file=sys.stderr)
    grading_job = client.grade(upload_job, standard_id=args.standard)
    result = client.wait(grading_job)["result"]
    print("5. Results:", file=sys.stderr)
    for submission_id in result["submission_ids"]:
        s = client.submission(submission_id)
        print(
            json.dumps({k: s[k] for k in ("id", "standard", "total_score", "max_score", "percentage", "needs_review")})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
