"""`make bench`'s batches: client threads that upload scripts and wait for their grades, and what the run shows
about them (queue waits, the AI calls' timeline); the fake AI server set up for a batch."""

from __future__ import annotations

import json
import math
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bench_stack import SHEET, Client, Stack, ai_control, query


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    low, high = math.floor(k), math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def run_batch(client: Client, scripts: int, pages: int, flow: str, poll: float = 0.25) -> dict:
    """Each of ``scripts`` client threads uploads one script and waits for its grades. Flow ``one-step``: the upload
    asks for grading (grade=true) and the client follows the grading job its extraction result names. ``two-step``:
    the client waits for the extraction, then posts /grade, as clients of the earlier system do."""
    page = SHEET.read_bytes()
    latencies: list[float] = []
    failures = []

    def one(_):
        started = time.monotonic()
        status, body = client.upload([page] * pages, grade=flow == "one-step")
        if status != 202:
            failures.append(body)
            return
        extraction = client.wait(body["data"]["job_id"], poll=poll)
        if flow == "one-step":
            grading_job_id = (extraction.get("result") or {}).get("grading_job_id")
            if not grading_job_id:
                failures.append(extraction)
                return
        else:
            status, body = client.request(
                "POST",
                "/api/v1/grade",
                json.dumps({"upload_job_id": extraction["id"], "standard_id": 5}).encode(),
                {"Content-Type": "application/json"},
            )
            if status != 202:
                failures.append(body)
                return
            grading_job_id = body["data"]["job_id"]
        grading = client.wait(grading_job_id, poll=poll)
        if grading["status"] != "completed" or extraction["status"] != "completed":
            failures.append(grading)
        latencies.append(time.monotonic() - started)

    started, epoch = time.monotonic(), time.time()
    with ThreadPoolExecutor(max_workers=scripts) as pool:
        list(pool.map(one, range(scripts)))
    wall = time.monotonic() - started
    return {"wall": wall, "epoch": (epoch, epoch + wall), "latencies": latencies, "failures": failures}


def warm_up(client: Client, scripts: int, flow: str) -> None:
    """A batch of one-page scripts that opens the database connections of every web and worker thread, so that the
    batch measured next finds a warm stack, as in production; the bench stops if any of them fails."""
    batch = run_batch(client, scripts, 1, flow)
    if batch["failures"]:
        raise SystemExit(f"the warm-up batch failed: {batch['failures'][0]}")


def queue_waits(env: dict, since: datetime) -> dict[str, list[float]]:
    """Seconds each job of the batch waited between its message being published and a worker starting it, by type:
    how long work sat in the queue for want of a free worker process."""
    rows = query(
        env,
        "SELECT job_type, EXTRACT(EPOCH FROM started_at - enqueued_at) FROM jobs_backgroundjob "
        "WHERE created_at >= %s AND started_at IS NOT NULL AND enqueued_at IS NOT NULL",
        [since],
    )
    waits: dict[str, list[float]] = {}
    for job_type, wait in rows:
        waits.setdefault(job_type, []).append(max(0.0, float(wait)))
    return waits


def save_timeline(stack: Stack, mode: str, batch: dict, latency: float) -> tuple[float, float]:
    """When each AI call arrived, and of what kind, for looking into a slow run (.data/bench/ai-<mode>.json).
    Returns the seconds from the batch's start to its first AI call, and from the end of its last AI call to the
    batch's end: the time spent outside the provider (uploads, queues, polling)."""
    log = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{stack.ai_port}/_control/requests").read())["requests"]  # noqa: S310, E501
    calls = [{"time": entry["time"], "kind": entry["kind"], "status": entry["status"]} for entry in log]
    (stack.logs / f"ai-{mode}.json").write_text(json.dumps(calls))
    if not calls:
        return float("nan"), float("nan")
    start, end = batch["epoch"]
    return min(c["time"] for c in calls) - start, end - (max(c["time"] for c in calls) + latency)


def reset_ai(port: int, latency: float, pages: int, scripts: int) -> None:
    ai_control(port, "reset", {})
    ai_control(port, "config", {"latency": latency})
    _script_later_pages(port, pages, scripts)


def _script_later_pages(port: int, pages: int, scripts: int) -> None:
    """Each script's later pages read as a real sheet's: no name, and the questions continuing from the page before
    (the fake's default page, questions 1-3, is page 1). Otherwise every page starts again at question 1 under the
    same name, which QuizMarker rightly takes for a second attempt: a script per page, and three times the grading."""
    from tests.fakeopenai.server import default_extraction

    first = default_extraction()
    per_page = len(first["questions"])
    responses = []
    for page in range(2, pages + 1):
        questions = [dict(q, number=q["number"] + (page - 1) * per_page) for q in first["questions"]]
        later = {"student_name": None, "standard": None, "questions": questions}
        # Twice what a batch needs: spares (for a retried page) are dropped at the next reset.
        responses += [{"json": later, "when": f"Page {page} of"}] * (scripts * 2)
    if responses:
        ai_control(port, "script", {"kind": "PageExtraction", "responses": responses})
