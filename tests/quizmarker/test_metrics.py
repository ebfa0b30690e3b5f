"""/metrics: a real Prometheus server (Debian's `prometheus`) scrapes the ASGI web server while a real worker runs
jobs, and sees the counters move; who may read it; what a request and a provider call add."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import sheet, upload, wait_for_job, wait_until

PROMETHEUS = shutil.which("prometheus")


def samples(text: str) -> dict[tuple, float]:
    """(name, sorted labels) → value, from the exposition format."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: Client, **extra) -> dict[tuple, float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


# --- Who may read it ------------------------------------------------------------------------------


@override_settings(METRICS_TOKEN="s3cret-metrics-token", METRICS_ALLOWED_NETWORKS=[])
def test_metrics_answer_only_the_token_or_an_allowed_address(db):
    client = Client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code == 200


def test_an_allowed_network_reads_metrics_and_others_do_not(db):
    import ipaddress

    with override_settings(METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS=[ipaddress.ip_network("10.1.0.0/16")]):
        assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
        assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 404
        assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404


# --- What is counted ------------------------------------------------------------------------------


@override_settings(METRICS_TOKEN="t0ken")
def test_a_request_is_counted_by_its_route_pattern_and_status(db):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Bearer t0ken"}
    key = ("quizmarker_http_requests_total", (("method", "GET"), ("route", "/health"), ("status", "200")))
    before = scrape(client, **auth).get(key, 0)
    for _ in range(3):
        assert client.get("/health").status_code == 200
    after = scrape(client, **auth)
    assert after[key] == before + 3
    latency = ("quizmarker_http_request_duration_seconds_count", (("method", "GET"), ("route", "/health")))
    assert after[latency] >= 3


# --- A real Prometheus scrapes it -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def prometheus(web_server):
    if PROMETHEUS is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's prometheus is not installed (.ci/run installs it): apt-get install prometheus")
        pytest.skip("Debian's prometheus is not installed: apt-get install prometheus")
    folder = Path(tempfile.mkdtemp(prefix="qm-prometheus-"))
    port = _free_port()
    target = web_server.url.removeprefix("http://")
    (folder / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: quizmarker\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def query(expression: str) -> list[dict]:
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return json.load(response)["data"]["result"]

    try:
        wait_until(lambda: _answers(query), timeout=30, interval=0.5, what="Prometheus to scrape the web server")
        yield query
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


def _answers(query) -> bool:
    try:
        return [row["value"][1] for row in query('up{job="quizmarker"}')] == ["1"]
    except OSError:
        return False


def _value(query, expression: str) -> float:
    rows = query(expression)
    return float(rows[0]["value"][1]) if rows else 0.0


@pytest.mark.worker
def test_a_real_prometheus_scrape_sees_job_and_provider_counters_move(
    prometheus, celery_worker, api, personas, live_db, openai_server
):
    finished = 'sum(quizmarker_jobs_finished_total{job_type="extraction",status="completed"})'
    started = 'sum(quizmarker_jobs_started_total{job_type="extraction"})'
    calls = 'sum(quizmarker_provider_calls_total{outcome="succeeded",purpose="extraction"})'
    durations = 'sum(quizmarker_job_duration_seconds_count{job_type="extraction",status="completed"})'
    waits = "sum(quizmarker_limiter_wait_seconds_count)"
    time.sleep(1.5)  # one more scrape, so "before" is what the server counts now
    measures = {"finished": finished, "started": started, "calls": calls, "durations": durations, "waits": waits}
    before = {name: _value(prometheus, expression) for name, expression in measures.items()}

    client = api(personas.alpha, personas.dana)
    job_ids = [upload(client, sheet("s05_std05_dkg_p1.png"))["job_id"] for _ in range(2)]  # Alpha: the fake provider
    for job_id in job_ids:
        assert wait_for_job(job_id).status == "completed"

    wait_until(
        lambda: _value(prometheus, finished) == before["finished"] + 2,
        timeout=20,
        interval=0.5,
        what="Prometheus to see two more completed extraction jobs",
    )
    assert _value(prometheus, started) == before["started"] + 2
    assert _value(prometheus, durations) == before["durations"] + 2
    assert _value(prometheus, calls) == before["calls"] + 2  # one page each, one call each
    assert _value(prometheus, waits) == before["waits"] + 2  # each call waited for the limiter's slot (briefly)
    tokens = _value(prometheus, 'sum(quizmarker_provider_tokens_total{kind="prompt"})')
    assert tokens > 0
    queued = prometheus('quizmarker_jobs_queued{job_type="grading"}')
    assert [row["value"][1] for row in queued] == ["0"]
