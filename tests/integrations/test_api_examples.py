"""The README's examples (docs/api-examples/curl.sh and client.py) run against a live server with a real worker."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from integrations.models import ApiToken
from tests.helpers import ROOT, SHEETS

pytestmark = [pytest.mark.worker]
EXAMPLES = ROOT / "docs" / "api-examples"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def live_server_url(live_db):
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def example_env(live_server_url, personas):
    # The README's way: `manage.py drf_create_token <email> | awk '{print $3}'`.
    out = io.StringIO()
    call_command("drf_create_token", personas.bob.email, "--name", "examples", stdout=out)
    key = out.getvalue().split()[2]
    token = ApiToken.objects.get(user=personas.bob, name="examples", revoked_at__isnull=True)
    port = live_server_url.rsplit(":", 1)[1]
    yield {
        **os.environ,
        "QM_URL": live_server_url,
        "QM_HOST": f"{personas.alpha.host}:{port}",
        "QM_TOKEN": key,
        "QM_SHEET": str(SHEETS / "s11_std11_typed.pdf"),
        "QM_STANDARD": "11",
    }
    ApiToken.objects.filter(pk=token.pk).delete()


def _results(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_the_curl_example_uploads_waits_grades_and_fetches_results(celery_worker, example_env, openai_server):
    run = subprocess.run(
        ["bash", str(EXAMPLES / "curl.sh")], env=example_env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    [result] = _results(run.stdout)
    assert result["standard"] == 11 and result["max_score"] is not None and result["total_score"] is not None


def test_the_python_example_uploads_waits_grades_and_fetches_results(celery_worker, example_env, openai_server):
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "client.py"), example_env["QM_SHEET"], "--standard", "11"],
        env=example_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    [result] = _results(run.stdout)
    assert result["standard"] == 11 and result["max_score"] is not None and result["total_score"] is not None


def test_the_python_examples_signature_check_accepts_our_signatures_only():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import client
    finally:
        sys.path.remove(str(EXAMPLES))
    from integrations.signing import sign

    body = b'{"id":"1","event":"job.completed"}'
    import time

    header = sign("whsec_test", int(time.time()), body)
    assert client.verify_signature("whsec_test", header, body)
    assert not client.verify_signature("whsec_other", header, body)
    assert not client.verify_signature("whsec_test", sign("whsec_test", int(time.time()) - 3600, body), body)
