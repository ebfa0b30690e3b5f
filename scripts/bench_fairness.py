"""`make bench`'s fairness case (`--mode fairness` runs it alone): one organization must not hold up another's work.

Organization B's single script is timed from upload (with grade=true) to graded, first on the idle stack (the median
of a few runs), then while organization A's batch of many scripts runs: A uploads its batch (one client thread a
script, all at once), and once every one of A's uploads has been accepted, B uploads a few seconds later. The target is
B's time under A's batch at most 1.5 times its idle time (issue #19): the AI provider's slots are shared fairly between
organizations (grading.limiter), and so are the workers (jobs.fairness). Where B's time went is reported too: how long
its jobs waited in the broker queue for a worker, and how long each ran (beyond its AI calls' latency: waits for the
provider's slots and the job's own work).

(While A's uploads are still arriving, B's upload request queues behind them in the web server, which checks every
file: that is the web tier's capacity, not the fair share this case measures.)
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

from bench_stack import ai_control, query

TARGET_RATIO = 1.5


def b_jobs_queue_wait(env: dict, slug: str, since: float) -> tuple[str, str]:
    """B's jobs since ``since`` (epoch seconds): the seconds each waited between being published and a worker starting
    it, and the seconds each ran (its AI calls, their waits for the provider's slots, and its own work), reading /
    grading."""
    rows = query(
        env,
        "SELECT j.job_type, EXTRACT(EPOCH FROM j.started_at - j.enqueued_at), "
        "EXTRACT(EPOCH FROM j.completed_at - j.started_at) FROM jobs_backgroundjob j "
        "JOIN organizations_organization o ON o.id = j.organization_id "
        "WHERE o.slug = %s AND j.created_at >= to_timestamp(%s) ORDER BY j.created_at",
        [slug, since],
    )
    waits = {job_type: max(0.0, float(wait or 0)) for job_type, wait, _ in rows}
    runs = {job_type: float(ran or 0) for job_type, _, ran in rows}
    kinds = ("extraction", "grading")
    return tuple(" / ".join(f"{seconds.get(kind, float('nan')):.2f} s" for kind in kinds) for seconds in (waits, runs))


def accepted_uploads(env: dict, slug: str, since: float) -> int:
    """How many reading jobs (one per accepted upload) the organization has had since ``since`` (epoch seconds)."""
    return query(
        env,
        "SELECT count(*) FROM jobs_backgroundjob j JOIN organizations_organization o ON o.id = j.organization_id "
        "WHERE o.slug = %s AND j.job_type = 'extraction' AND j.created_at >= to_timestamp(%s)",
        [slug, since],
    )[0][0]


def fairness_rows(
    run_batch: Callable[..., dict],
    client_a,
    client_b,
    env: dict,
    *,
    scripts: int,
    pages: int,
    delay: float,
    ai_port: int,
    latency: float,
    idle_runs: int = 3,
) -> list[tuple[str, str]]:
    """Time B's one script idle, and under A's batch of ``scripts`` scripts: B uploads ``delay`` s after the last of
    A's uploads was accepted."""
    ai_control(ai_port, "config", {"latency": latency})
    idle = []
    for _ in range(idle_runs):
        run = run_batch(client_b, 1, pages, "one-step")
        if run["failures"]:
            raise SystemExit(f"B's script failed on the idle stack: {run['failures'][0]}")
        idle.append(run["latencies"][0])
    idle_time = statistics.median(idle)

    print(f"[bench] fairness: A uploads {scripts} scripts, B one script {delay:.0f} s after them ...", flush=True)
    a_result: dict = {}
    # A's clients poll as real ones do (every 2 s): a hundred clients polling 4 times a second would measure the web
    # server's queue, not the workers' and the AI provider's fairness. B polls every 0.25 s, for a precise time.
    batch = threading.Thread(
        target=lambda: a_result.update(run_batch(client_a, scripts, pages, "one-step", poll=2.0)), daemon=True
    )
    a_started = time.time()
    batch.start()
    while accepted_uploads(env, "bench", a_started) < scripts and batch.is_alive():
        time.sleep(0.1)
    a_uploaded = time.time() - a_started
    time.sleep(delay)
    b_started = time.time()
    loaded = run_batch(client_b, 1, pages, "one-step")
    b_done = time.time()
    batch.join()
    if loaded["failures"] or a_result.get("failures"):
        raise SystemExit(f"a script failed under load: {(loaded['failures'] or a_result['failures'])[0]}")
    loaded_time = loaded["latencies"][0]
    ratio = loaded_time / idle_time
    a_left = sum(1 for latency in a_result["latencies"] if a_started + latency > b_done)
    b_waits, b_runs = b_jobs_queue_wait(env, "other", b_started)
    return [
        (
            f"fairness: B's one script ({pages} pages, AI latency {latency:g} s), upload → graded, idle stack "
            f"(median of {idle_runs})",
            f"{idle_time:.2f} s ({' / '.join(f'{t:.2f}' for t in idle)})",
        ),
        (
            f"fairness: the same while A's {scripts}-script batch runs (B uploads {delay:.0f} s after A's uploads)",
            f"{loaded_time:.2f} s",
        ),
        ("fairness: ratio to idle (target ≤ 1.5)", f"{ratio:.2f} {'(met)' if ratio <= TARGET_RATIO else '(MISSED)'}"),
        ("fairness: B's jobs waiting for a worker (reading / grading)", b_waits),
        (f"fairness: B's jobs running, with their AI calls of {latency:g} s (reading / grading)", b_runs),
        (
            "fairness: A's uploads accepted in; A's batch wall time; A's scripts unfinished when B's was graded",
            f"{a_uploaded:.2f} s; {a_result['wall']:.2f} s; {a_left} of {scripts}",
        ),
    ]
