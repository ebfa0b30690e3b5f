"""Domain code refuses with a kind of ``quizmarker.errors.DomainError``; only the HTTP layer (quizmarker/api.py)
turns a kind into a status. Each kind answers through the real API with its status, the contract's code and, for a
service that is briefly away, Retry-After; and no module outside the HTTP layer reaches for DRF or ApiError."""

from __future__ import annotations

import ast
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from jobs.models import BackgroundJob, JobStatus, JobType
from organizations.models import Organization
from quizmarker import errors
from quizmarker.api import DOMAIN_STATUS, status_for
from tests.helpers import api_error, post_upload, sheet

ROOT = Path(__file__).resolve().parents[2]
DOWN = "redis://127.0.0.1:1/0"  # nothing listens there


def _missing_submission(client, personas):
    return client.get(f"/api/v1/submissions/{uuid.uuid4()}")


def _no_files(client, personas):
    return client.post("/api/v1/upload", {}, format="multipart")


def _over_the_size_limit(client, personas):
    with override_settings(UPLOAD_MAX_FILE_BYTES=1000):
        return post_upload(client, sheet("s01_std01_breip_p1.png"))


def _not_an_image(client, personas):
    return post_upload(client, SimpleUploadedFile("page.jpg", b"<!DOCTYPE html><html><body>hi</body></html>"))


def _upload_still_running(client, personas):
    upload = BackgroundJob.objects.create(
        organization=personas.alpha, user=personas.bob, job_type=JobType.EXTRACTION, status=JobStatus.PROCESSING
    )
    return client.post("/api/v1/grade", {"upload_job_id": str(upload.pk), "standard_id": 3}, format="json")


def _budget_spent(client, personas):
    Organization.objects.filter(pk=personas.alpha.pk).update(monthly_budget_usd=Decimal("0.00"))
    return post_upload(client, sheet("s01_std01_breip_p1.png"))


def _broker_down(client, personas):
    with override_settings(CELERY_BROKER_URL=DOWN):
        return post_upload(client, sheet("s01_std01_breip_p1.png"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "request_", "status", "code", "sentence", "retry_after"),
    [
        (errors.NotFound, _missing_submission, 404, "NOT_FOUND", "No submission with that id", None),
        (errors.Invalid, _no_files, 400, "VALIDATION_ERROR", "Attach one or more answer sheets", None),
        (errors.TooLarge, _over_the_size_limit, 413, "FILE_TOO_LARGE", "“s01_std01_breip_p1.png” is larger", None),
        (errors.Unsupported, _not_an_image, 415, "UNSUPPORTED_FILE", "“page.jpg” looks like a web page", None),
        (errors.Conflict, _upload_still_running, 409, "JOB_NOT_COMPLETED", "The upload job is processing", None),
        (errors.LimitReached, _budget_spent, 403, "BUDGET_EXCEEDED", "This organization has used its AI budget", None),
        (errors.Unavailable, _broker_down, 503, "SERVICE_UNAVAILABLE", "Processing is paused", "30"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_each_kind_of_domain_error_answers_its_status_code_and_retry_after(
    api, personas, kind, request_, status, code, sentence, retry_after
):
    before = BackgroundJob.objects.count()
    response = request_(api(personas.alpha, personas.bob), personas)
    body = api_error(response, status, code)
    assert status_for(kind) == status
    assert body["error"].startswith(sentence), body["error"]
    assert response.get("Retry-After") == retry_after
    assert BackgroundJob.objects.count() == before + (1 if kind is errors.Conflict else 0), "nothing was started"


def test_every_kind_has_a_status_and_a_new_kind_takes_its_base_classes():
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, errors.DomainError)]
    assert {kind: status_for(kind) for kind in kinds} == {
        errors.DomainError: 400,
        errors.Invalid: 400,
        errors.TooLarge: 413,
        errors.Unsupported: 415,
        errors.NotFound: 404,
        errors.Conflict: 409,
        errors.NotAllowed: 403,
        errors.LimitReached: 403,
        errors.Unavailable: 503,
    }
    assert set(DOMAIN_STATUS) == set(kinds)

    class ScriptGone(errors.NotFound):
        pass

    assert status_for(ScriptGone("Gone.", code="NOT_FOUND")) == 404


# --- Only the HTTP layer knows DRF ------------------------------------------------------------------------------------

APPS = ["grading", "integrations", "jobs", "markschemes", "organizations", "quizmarker"]

# The API: its views, serializers and the shared envelope. Here DRF and ApiError belong.
HTTP_LAYER = ("*/api.py", "*_api.py", "quizmarker/api*.py", "*serializers.py")

# Web modules outside the API that use DRF's own tools, not its errors: the API's authentication, schema and docs,
# the throttles the pages share with the API (and the pages that catch Throttled), DRF's settings. None may import
# ApiError; none is domain code.
DRF_TOOLS = {
    "integrations/authentication.py",
    "integrations/docs.py",
    "integrations/fields.py",
    "integrations/schema.py",
    "jobs/polling.py",
    "quizmarker/throttles.py",
    "quizmarker/settings/api.py",
    "quizmarker/settings/base.py",
    "grading/views/jobs.py",
    "grading/views/review.py",
    "grading/views/uploads.py",
    "markschemes/file_forms.py",
}


def _imports(path: Path) -> set[str]:
    """Every module and name a file imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``), and every string
    setting that names a DRF class (``"rest_framework.authentication.TokenAuthentication"``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("rest_framework"):
            found.add(node.value)
    return found


def _outside_the_http_layer() -> list[Path]:
    files = [p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    return [p for p in files if not any(p.relative_to(ROOT).match(pattern) for pattern in HTTP_LAYER)]


def test_no_module_outside_the_http_layer_imports_api_error_or_drf():
    uses = {}
    for path in _outside_the_http_layer():
        name = str(path.relative_to(ROOT))
        imported = _imports(path)
        bad = sorted(i for i in imported if i == "quizmarker.api.ApiError")
        if name not in DRF_TOOLS:
            bad += sorted(i for i in imported if i.split(".")[0] == "rest_framework")
        if bad:
            uses[name] = bad
    assert uses == {}, "domain code raises quizmarker.errors kinds; only the HTTP layer speaks DRF"
    assert len(_outside_the_http_layer()) > 100, "the walk found the apps' modules"


def test_the_domain_modules_raise_domain_errors():
    for name in [
        "grading/services.py",
        "grading/uploads.py",
        "grading/upload_limits.py",
        "grading/script_edits.py",
        "grading/corrections.py",
        "grading/api_lookups.py",
        "jobs/starting.py",
        "quizmarker/broker.py",
        "markschemes/subjects.py",
    ]:
        imported = _imports(ROOT / name)
        assert not any(i.startswith(("rest_framework", "quizmarker.api")) for i in imported), name
