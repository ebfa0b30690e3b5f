"""`make bench ARGS="--mode scaleout"`: a long batch from many organizations against a provider's calls-per-minute
cap, on AI workers named as on several hosts (issue #21).

--scaleout-scripts one-page scripts (1000) are uploaded with grade=true by one client per organization
(--scaleout-organizations, 10), taking turns, while --scaleout-workers threads AI workers (2, `-n ai1@host1` ...)
read and grade them. The fake provider answers 429 (Retry-After to the next minute) past --scaleout-cap calls in a
clock minute (600), and QuizMarker's shared limiter is set to the same cap (AI_MAX_CALLS_PER_MINUTE), as an operator
sets it to the provider's limit. Each script is two calls (reading, grading).

Targets: throughput within 10 % of the cap (calls answered 200 in each full clock minute of the run, so the part
minutes at the start and the end, which the cap does not fill, do not count); no failed script; each worker's memory
(PSS with its file-sandbox children) at the end within 20 % of its memory once the first 100 scripts were graded.
"""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench_stack import BIN, EVERY_QUEUE, PY, SHEET, Client, Stack, ai_control, ai_stats, memory_mb, query

THROUGHPUT_TOLERANCE = 0.10
MEMORY_TOLERANCE = 0.20
FIRST = 100  # scripts graded before the first memory reading


def create_organizations(env: dict, count: int) -> list[tuple[str, str]]:
    """``count`` organizations (slug, API token) on the enterprise plan, without grading emails."""
    setup = (
        "from organizations.models import User;"
        "from organizations.services import create_organization;"
        "from integrations.tokens import create_token\n"
        f"for n in range({count}):\n"
        "    u = User.objects.create_user(f'scale{n}@bench.test', None)\n"
        "    o = create_organization(name=f'Scale {n}', slug=f'scale{n}', owner=u, plan='enterprise')\n"
        "    o.notify_on_grading_complete = False; o.save()\n"
        "    print('ORGANIZATION', o.slug, create_token(u, 'bench', o)[1])"
    )
    out = subprocess.run(
        [PY, "manage.py", "shell", "-c", setup], env=env, check=True, capture_output=True, text=True
    ).stdout
    return [tuple(line.split()[1:]) for line in out.splitlines() if line.startswith("ORGANIZATION ")]


def start_workers(stack: Stack, env: dict, count: int, threads: int) -> list[subprocess.Popen]:
    """AI workers as the Procfile's ai-worker runs them (threads, the default queue), named ai1@host1, ai2@host2..."""
    workers = []
    for n in range(1, count + 1):
        command = [str(BIN / "celery"), "-A", "quizmarker", "worker", "-Q", EVERY_QUEUE, "--pool", "threads"]
        command += ["--concurrency", str(threads), "-n", f"ai{n}@host{n}", "--without-gossip", "--without-mingle"]
        workers.append(stack.spawn(f"scaleout-ai{n}", [*command, "-l", "warning"], env))
    return workers


def progress(env: dict, since: float) -> dict[str, int]:
    """Jobs of the run so far: grading completed (= scripts graded), and failed jobs of either kind."""
    rows = query(
        env,
        "SELECT job_type, status, count(*) FROM jobs_backgroundjob WHERE created_at >= to_timestamp(%s) "
        "GROUP BY job_type, status",
        [since],
    )
    counts = {f"{job_type} {status}": n for job_type, status, n in rows}
    return {
        "graded": counts.get("grading completed", 0),
        "failed": sum(n for key, n in counts.items() if key.endswith(("failed", "cancelled"))),
        "read": counts.get("extraction completed", 0),
    }


def full_minutes(ok_by_minute: dict) -> list[int]:
    """Calls answered 200 in each clock minute of the run but its first and last (which the run fills only partly)."""
    minutes = sorted((int(minute), n) for minute, n in ok_by_minute.items())
    return [n for _, n in minutes[1:-1]]


def run(stack: Stack, env: dict, args, timeout: float = 3600) -> list[tuple[str, str]]:
    """``args``: bench.py's options, --scaleout-* and --worker-concurrency (threads per AI worker). With
    --scaleout-upload-first every script is uploaded before the workers start, so that the provider's cap, not the web
    tier's upload rate, bounds the throughput (on a loaded 2-core host the uploads were the limit)."""
    scripts, organizations, cap = args.scaleout_scripts, args.scaleout_organizations, args.scaleout_cap
    workers, threads, upload_first = args.scaleout_workers, args.worker_concurrency, args.scaleout_upload_first
    ai_control(stack.ai_port, "config", {"calls_per_minute": cap})
    orgs = create_organizations(env, organizations)
    worker_env = dict(env, AI_MAX_CALLS_PER_MINUTE=str(cap))
    procs = [] if upload_first else start_workers(stack, worker_env, workers, threads)
    page = SHEET.read_bytes()
    refused: list = []
    accepted: list[str] = []
    started = time.time()
    print(f"[bench] scaleout: {scripts} scripts from {organizations} organizations, cap {cap}/min ...", flush=True)

    def one_organization(index: int) -> None:
        slug, token = orgs[index]
        client = Client(stack.web_port, token, slug)
        for _ in range(index, scripts, organizations):  # the organizations take turns
            try:
                status, body = client.upload([page], grade=True)
            except OSError as exc:
                status, body = None, repr(exc)
            (accepted if status == 202 else refused).append(body)

    uploading = threading.Thread(
        target=lambda: list(ThreadPoolExecutor(max_workers=organizations).map(one_organization, range(organizations)))
    )
    uploading.start()
    if upload_first:
        uploading.join()
        procs = start_workers(stack, worker_env, workers, threads)
    uploaded_in = None
    memory_first: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = progress(env, started)
        if uploaded_in is None and not uploading.is_alive():
            uploaded_in = time.time() - started
        if not memory_first and done["graded"] >= FIRST:
            memory_first = [memory_mb(proc) for proc in procs]
        if not uploading.is_alive() and done["graded"] + done["failed"] >= len(accepted):
            break
        time.sleep(2)
    wall = time.time() - started
    memory_end = [memory_mb(proc) for proc in procs]
    uploading.join()
    done = progress(env, started)
    stats = ai_stats(stack.ai_port)
    minutes = full_minutes(stats["ok_by_minute"])
    rate = sum(minutes) / len(minutes) if minutes else float("nan")
    ok = stats["by_status"].get("200", 0)
    failed = scripts - done["graded"]
    memory_change = [end / first - 1 for first, end in zip(memory_first, memory_end, strict=False)]
    return [
        ("scaleout: scripts / organizations / AI workers", f"{scripts} / {organizations} / {workers} × {threads}"),
        ("provider cap (fake's 429 past it, and the limiter's AI_MAX_CALLS_PER_MINUTE)", f"{cap} calls/min"),
        ("wall time", f"{wall / 60:.1f} min"),
        (
            "uploads accepted, and in how long" + (" (all before the workers started)" if upload_first else ""),
            f"{len(accepted)} in {uploaded_in / 60:.1f} min ({len(accepted) / uploaded_in * 60:.0f} a minute)",
        ),
        ("calls answered 200 per full clock minute", " / ".join(map(str, minutes)) or "(no full minute)"),
        (
            "throughput: mean of the full minutes, and its ratio to the cap (target 0.90-1.00)",
            f"{rate:.0f} calls/min, {rate / cap:.2f}",
        ),
        ("calls answered 200 / 429 over the cap / other", _calls(stats, ok)),
        ("scripts graded / failed (target 0 failed)", f"{done['graded']} / {failed} (uploads refused {len(refused)})"),
        (
            f"worker memory after the first {FIRST} graded → at the end (PSS; target within 20 %)",
            ", ".join(
                f"ai{n} {first:.0f} → {end:.0f} MB ({change:+.0%})"
                for n, (first, end, change) in enumerate(zip(memory_first, memory_end, memory_change, strict=False), 1)
            )
            or "(fewer than 100 graded)",
        ),
        ("max concurrent AI calls seen", str(stats.get("max_concurrent"))),
        ("targets met", _verdict(rate, cap, failed, memory_change, workers)),
    ]


def _calls(stats: dict, ok: int) -> str:
    over_cap = stats["by_fault"].get("calls_per_minute", 0)
    return f"{ok} / {over_cap} / {stats['requests'] - ok - over_cap}"


def _verdict(rate: float, cap: int, failed: int, memory_change: list[float], workers: int) -> str:
    misses = []
    if not (1 - THROUGHPUT_TOLERANCE) * cap <= rate <= cap:
        misses.append("throughput")
    if failed:
        misses.append("failed scripts")
    if len(memory_change) < workers or any(abs(change) > MEMORY_TOLERANCE for change in memory_change):
        misses.append("memory")
    return "yes" if not misses else "no: " + ", ".join(misses)
