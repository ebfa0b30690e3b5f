"""Helpers for tests (import these; never import conftest, which would register its fixtures twice)."""

from __future__ import annotations

import io
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mail_dir() -> Path:
    """Where the worker's file-based email backend writes, one folder per test run."""
    from django.conf import settings

    return ROOT / ".data" / "test-mail" / settings.REDIS_KEY_PREFIX


def wait_for_job(job_id, timeout: float = 60, seen: list | None = None):
    """Poll a job (as a client would) until it finishes; returns it. ``seen`` collects (progress, step)."""
    from jobs.models import BackgroundJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = BackgroundJob.objects.get(pk=job_id)
        if seen is not None and (not seen or seen[-1] != (job.progress, job.current_step)):
            seen.append((job.progress, job.current_step))
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job.status} ({job.progress}% {job.current_step}) after {timeout} s")


SHEETS = ROOT / "tests" / "fixtures" / "sheets"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; the browser test never downloads a browser


def sheet(name: str):
    """A generated answer sheet from the committed corpus, as an upload."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, (SHEETS / name).read_bytes())


def typed_pdf(lines: list[str], name: str = "quiz.pdf", *, font_size: int = 10, line_height: int = 20):
    """A one-page PDF with a text layer, one line of text per item (the same bytes every time), as an upload."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setFont("Helvetica", font_size)
    y = 800
    for line in lines:
        canvas.drawString(40, y, line)
        y -= line_height
    canvas.showPage()
    canvas.save()
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/pdf")


def scanned_pdf(lines: list[str], name: str = "scan.pdf"):
    """A photographed page: a picture of the lines in a PDF with no text layer, as a scanner makes."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    image = Image.new("L", (1200, 900), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 60 * i), line, fill=0)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.drawImage(ImageReader(image), 30, 200, width=540, height=405)
    canvas.showPage()
    canvas.save()
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/pdf")


def read_question(number: int, answer: str, legibility: float = 0.9) -> dict:
    """One question of a page as the reader returns it (a PageExtraction's entry, for the fake provider to answer)."""
    return {"number": number, "question": f"Question {number}?", "answer": answer, "legibility": legibility}


def post_upload(client, *files, **fields):
    """POST /api/v1/upload through an API client; the response, whatever it is."""
    return client.post("/api/v1/upload", {"files": list(files), **fields}, format="multipart")


def upload(client, *files, **fields) -> dict:
    """POST /api/v1/upload through an API client; asserts the contract's 202 and returns its data."""
    return api_data(post_upload(client, *files, **fields), 202)


def api_data(response, status_code: int = 200):
    """The contract's success envelope: asserts the status and ``success``, returns ``data``."""
    body = response.json()
    assert response.status_code == status_code, body
    assert body["success"] is True
    return body["data"]


def api_error(response, status_code: int, code: str) -> dict:
    """The contract's error envelope: the status, ``success: false``, the code, a sentence a person understands
    and a ``details`` object. Returns the body."""
    body = response.json()
    assert response.status_code == status_code, body
    assert body["success"] is False
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"].strip().endswith((".", "?", "!")), body["error"]
    assert isinstance(body.get("details", {}), dict)
    return body


def wait_until(predicate, timeout: float = 20, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def on_broker(message_id: str) -> bool:
    """Whether a Celery message is still on the broker: waiting in a queue, or taken by a worker but not yet
    acknowledged (late acks keep it in the "unacked" hash until the task has finished)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    needle = message_id.encode()
    for key in client.scan_iter(f"{prefix}*"):
        kind = client.type(key)
        if kind == b"list" and any(needle in item for item in client.lrange(key, 0, -1)):
            return True
        if kind == b"hash" and any(needle in value for value in client.hvals(key)):
            return True
    return False


def url_routes(urlconf: str = "quizmarker.urls_tenant"):
    """Every route of a URL configuration as its full pattern text, included URL modules walked."""
    from django.urls import get_resolver
    from django.urls.resolvers import URLResolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return walk(get_resolver(urlconf).url_patterns)


def api_key(user, organization) -> str:
    """A fresh API token key of ``user`` that works in ``organization`` (a super admin's works everywhere)."""
    from integrations.tokens import create_token

    return create_token(user, "tests", organization)[1]


# The fake AI's feedback for question n (tests/fakeopenai, grade_answer): each names its question, so a grade stored
# on another question's row shows.
FULL_MARKS = "A full answer to question {} that covers the key points in enough detail."
PARTIAL_MARKS = (
    "A partial answer to question {}: it is on the right lines but needs more detail and a specific example."
)
TOO_BRIEF = "The answer to question {} is too brief to earn credit; explain the point in full sentences."
UNSURE = "The AI was unsure of this mark (confidence 40%)."


def marks(questions) -> dict[int, tuple]:
    """Each question's AI result by number, as (ai_score as text or None, ai_feedback, needs_review, review_reason);
    from QuestionResult rows or the API's question objects."""
    rows = {}
    for q in questions:
        q = (
            q
            if isinstance(q, dict)
            else {f: getattr(q, f) for f in ("number", "ai_score", "ai_feedback", "needs_review", "review_reason")}
        )
        score = None if q["ai_score"] is None else f"{float(q['ai_score']):.2f}"
        rows[q["number"]] = (score, q["ai_feedback"], q["needs_review"], q["review_reason"])
    return dict(sorted(rows.items()))


def totp_code(secret: str, at: float | None = None) -> str:
    """The 6-digit code an authenticator app shows for a base32 secret (RFC 6238: SHA-1, 30 s)."""
    import base64
    import hashlib
    import hmac
    import struct

    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def enrol_totp(user) -> str:
    """Give ``user`` an authenticator app, as enrolling on /accounts/2fa/totp/activate/ does; returns its secret."""
    import base64
    import secrets

    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import encrypt

    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret)})
    return secret


def assert_every_score_is_its_points(schema: str = "alpha") -> int:
    """Every graded answer's score equals the sum of its met points' marks capped at its maximum, within 0..max."""
    from decimal import Decimal

    from django_tenants.utils import schema_context

    from grading.models import QuestionResult
    from markschemes.scoring import points_score

    with schema_context(schema):
        checked = 0
        graded = QuestionResult.objects.filter(scheme_question__isnull=False, ai_score__isnull=False)
        for q in graded.prefetch_related("point_decisions__point"):
            decisions = list(q.point_decisions.all())
            met = [d.point.marks for d in decisions if d.ai_met]
            assert q.ai_score == points_score(q.max_score, met), (q.pk, q.ai_score, met)
            assert Decimal(0) <= q.ai_score <= q.max_score == q.scheme_question.max_marks
            if q.answer_text:  # an answered question has one decision per marking point
                assert len(decisions) == q.scheme_question.points.count()
            checked += 1
        assert not QuestionResult.objects.filter(outside_scheme=True, ai_score__isnull=False).exists()
        return checked
