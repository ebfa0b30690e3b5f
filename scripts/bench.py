#!/usr/bin/env python
"""End-to-end benchmark on the real stack: gunicorn, Celery workers, PostgreSQL and Redis, against the fake
OpenAI-compatible server with a fixed latency.

    python scripts/bench.py                         # 20 scripts x 3 pages, 1 s latency, C = 16, both modes
    python scripts/bench.py --scripts 5 --mode concurrent

Prints one table and appends it, with the machine it ran on, to BENCHMARKS.md (--no-write to skip).

Modes:
  concurrent  what QuizMarker does: pages of a script in parallel, many scripts per worker, a shared limiter of
              C concurrent AI calls. The batch runs twice: uploads that ask for grading (grade=true, the headline
              figure), then the two-request flow of older clients (upload, wait, POST /grade).
  sequential  imitates the earlier system: one page at a time, one job at a time, 2 s between AI calls.
  local       only the offline grader's speed, in this process (every mode reports it; no stack is started).
  fairness    only the fairness case (both runs it too): organization B's one script, idle and while organization A's
              batch of --fairness-scripts runs (scripts/bench_fairness.py).
  streams     what watching one batch costs the web server: --watchers clients by live stream (server-sent events)
              against as many polling every 2 s (scripts/bench_streams.py).
  scaleout    1000 one-page scripts from 10 organizations on two AI workers against a provider's cap of 600 calls a
              minute answered with 429s: throughput, failures and worker memory (scripts/bench_scaleout.py).

The pieces: bench_stack.py (processes, database, client, CPU and memory), bench_batch.py (batches and their
timelines), bench_web.py (upload latency, status requests/s), bench_report.py (machine figures, BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime

from bench_batch import percentile, queue_waits, reset_ai, run_batch, save_timeline, warm_up
from bench_report import cpu_reference, local_grading_rows, report
from bench_stack import (
    BIN,
    PY,
    SHEET,
    Client,
    Stack,
    ai_control,
    ai_stats,
    cpu_seconds,
    free_port,
    memory_mb,
    prepare,
    start_worker,
    wait_http,
)
from bench_web import status_rps, upload_latency

ARGS: argparse.Namespace
LOAD_BEFORE = 0.0
CPU_REFERENCE = 0.0


def main() -> int:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scripts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16, help="AI_MAX_CONCURRENT_CALLS (C)")
    parser.add_argument(
        "--worker-concurrency", type=int, default=24, help="jobs at once per worker (threads, or processes)"
    )
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes (the image's default)")
    parser.add_argument(
        "--worker-pool", choices=["prefork", "threads"], default="threads", help="Celery pool (threads: as ai-worker)"
    )
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker (1: sync workers)")
    parser.add_argument(
        "--mode",
        choices=["both", "concurrent", "sequential", "web", "local", "fairness", "streams", "scaleout"],
        default="both",
        help="which batches to run (web: none, only the upload and job-status measurements; local: only the offline "
        "grader's speed, with no stack)",
    )
    parser.add_argument("--fairness-scripts", type=int, default=100, help="the fairness case: A's batch")
    parser.add_argument(
        "--fairness-delay", type=float, default=3.0, help="the fairness case: seconds between A's uploads and B's"
    )
    parser.add_argument(
        "--fairness-latency",
        type=float,
        default=3.0,
        help="the fairness case: the fake AI's latency (a vision call to a real provider takes seconds; at 1 s on a "
        "loaded 2-core host, A's uploads took as long as its AI work, so B never met a backlog)",
    )
    parser.add_argument(
        "--database", default="quizmarker_bench", help="the database to (re)create: another name for a parallel run"
    )
    parser.add_argument("--watchers", type=int, default=200, help="--mode streams: clients watching one batch")
    parser.add_argument("--scaleout-scripts", type=int, default=1000, help="--mode scaleout: one-page scripts")
    parser.add_argument("--scaleout-organizations", type=int, default=10, help="--mode scaleout: organizations")
    parser.add_argument("--scaleout-cap", type=int, default=600, help="--mode scaleout: the provider's calls/min")
    parser.add_argument("--scaleout-latency", type=float, default=0.2, help="--mode scaleout: the fake AI's latency")
    parser.add_argument("--scaleout-workers", type=int, default=2, help="--mode scaleout: AI workers (hosts)")
    parser.add_argument(
        "--scaleout-upload-first",
        action="store_true",
        help="--mode scaleout: upload every script before the workers start (the cap, not uploads, sets the pace)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    ARGS = args = parser.parse_args()
    global LOAD_BEFORE, CPU_REFERENCE
    LOAD_BEFORE = os.getloadavg()[0]
    CPU_REFERENCE = cpu_reference()

    local_rows = local_grading_rows()
    if args.mode == "local":
        return report(args, LOAD_BEFORE, CPU_REFERENCE, local_rows)
    stack = Stack(args)
    try:
        # (streams, scaleout: a database of their own by default, so that they never drop another bench run's)
        own = args.mode in ("streams", "scaleout") and args.database == "quizmarker_bench"
        database = f"quizmarker_bench_{args.mode}" if own else None
        env = prepare(args, database or args.database)
        env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{stack.ai_port}/v1"
        fake = stack.spawn(
            "fakeopenai",
            [PY, "-m", "tests.fakeopenai", "--port", str(stack.ai_port), "--latency", str(args.latency)],
            env,
        )
        web = stack.spawn(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "quizmarker.wsgi:application",
                "-b",
                f"127.0.0.1:{stack.web_port}",
                "-w",
                str(args.web_workers),
                *(["--worker-class", "gthread", "--threads", str(args.web_threads)] if args.web_threads > 1 else []),
                "--log-level",
                "warning",
            ],
            env,
        )
        wait_http(f"http://127.0.0.1:{stack.ai_port}/_control/stats")
        wait_http(f"http://127.0.0.1:{stack.web_port}/health")
        client = Client(stack.web_port, env["BENCH_TOKEN"])
        rows: list[tuple[str, str]] = list(local_rows)
        if args.mode == "streams":
            return report(args, LOAD_BEFORE, CPU_REFERENCE, rows + streams_rows(stack, env, web))
        if args.mode == "scaleout":
            import bench_scaleout

            ai_control(stack.ai_port, "config", {"latency": args.scaleout_latency})
            return report(args, LOAD_BEFORE, CPU_REFERENCE, rows + bench_scaleout.run(stack, env, args))
        bound = math.ceil(args.scripts * (args.pages + 1) / args.concurrency) * args.latency
        results = {}
        # (batch, worker mode, client flow): the concurrent batch once with grade=true and once as two requests.
        batches = {
            "concurrent": [("concurrent", "concurrent", "one-step"), ("two-step", "concurrent", "two-step")],
            "sequential": [("sequential", "sequential", "two-step")],
        }
        modes = {"both": ["concurrent", "sequential"], "web": [], "fairness": []}.get(args.mode, [args.mode])
        for name, mode, flow in [b for m in modes for b in batches[m]]:
            worker = start_worker(stack, env, mode, ARGS.worker_pool, ARGS.worker_concurrency)
            # Measure a warm stack, as in production: a first batch of one-page scripts opens the database
            # connections of every web and worker thread (on a cold stack it added ~0.3 s before the first AI call).
            warm_up(client, args.scripts if mode != "sequential" else 1, flow)
            reset_ai(stack.ai_port, args.latency, args.pages, args.scripts)
            print(f"[bench] {name}: {args.scripts} scripts x {args.pages} pages ...", flush=True)
            parts = {"workers": worker, "web": web, "fake AI server": fake}
            before = cpu_seconds(parts)
            batch_started = datetime.now(UTC)
            batch = run_batch(client, args.scripts, args.pages, flow)
            cpu = {name: used - before[name] for name, used in cpu_seconds(parts).items()}
            batch["worker_mb"] = memory_mb(worker)
            batch["queue_waits"] = queue_waits(env, batch_started)
            stats = ai_stats(stack.ai_port)
            batch["outside_ai"] = save_timeline(stack, name, batch, args.latency)
            results[name] = batch | {"stats": stats, "cpu": cpu}
            stack.stop(worker)
            if batch["failures"]:
                print(f"[bench] {len(batch['failures'])} failures, first: {batch['failures'][0]}", flush=True)
        if "concurrent" in results:
            c = results["concurrent"]
            calls = c["stats"]["requests"]
            tokens = {k: c["stats"][f"{k}_tokens"] for k in ("prompt", "cached", "completion")}
            rows += [
                ("batch wall time (concurrent, upload with grade=true)", f"{c['wall']:.2f} s"),
                (f"lower bound ⌈N·(P+1)/C⌉·L (C={args.concurrency})", f"{bound:.2f} s"),
                ("ratio to the bound", f"{c['wall'] / bound:.2f}"),
                (
                    "job latency p50 / p95 (upload → graded)",
                    f"{percentile(c['latencies'], 0.5):.2f} s / {percentile(c['latencies'], 0.95):.2f} s",
                ),
                (
                    "batch wall time and ratio, two requests (upload, then grade)",
                    f"{results['two-step']['wall']:.2f} s, {results['two-step']['wall'] / bound:.2f}",
                ),
                (
                    "before the first AI call / after the last one",
                    " / ".join(f"{seconds:.2f} s" for seconds in c["outside_ai"]),
                ),
                ("AI calls per script", f"{calls / args.scripts:.2f}"),
                (
                    "tokens per script (prompt / cached / completion)",
                    " / ".join(str(round(tokens.get(k, 0) / args.scripts)) for k in ("prompt", "cached", "completion")),
                ),
                ("max concurrent AI calls seen", str(c["stats"].get("max_concurrent"))),
                ("AI answers by HTTP status", json.dumps(c["stats"].get("by_status"))),
                ("failed scripts", str(len(c["failures"]))),
                (
                    f"worker memory after the batch (PSS, {ARGS.worker_pool} × {ARGS.worker_concurrency})",
                    f"{c['worker_mb']:.0f} MB",
                ),
                (
                    "CPU seconds in the batch (workers / web / fake AI)",
                    " / ".join(f"{c['cpu'][k]:.1f}" for k in ("workers", "web", "fake AI server")),
                ),
                (
                    "queue wait for a worker, max (reading / grading)",
                    " / ".join(f"{max(c['queue_waits'].get(k) or [0]):.2f} s" for k in ("extraction", "grading")),
                ),
            ]
        if "sequential" in results:
            s = results["sequential"]
            rows.append(("batch wall time (sequential, earlier system)", f"{s['wall']:.2f} s"))
            if "concurrent" in results:
                rows.append(("speed-up over sequential", f"{s['wall'] / results['concurrent']['wall']:.1f}x"))
        worker = start_worker(stack, env, "concurrent", ARGS.worker_pool, ARGS.worker_concurrency)
        if args.mode in ("both", "fairness"):
            from bench_fairness import fairness_rows

            warm_up(client, args.scripts, "one-step")  # as above: every thread's connections open
            other = Client(stack.web_port, env["BENCH_TOKEN_OTHER"], "other")
            rows += fairness_rows(
                run_batch,
                client,
                other,
                env,
                scripts=args.fairness_scripts,
                pages=args.pages,
                delay=args.fairness_delay,
                ai_port=stack.ai_port,
                latency=args.fairness_latency,
            )
            reset_ai(stack.ai_port, args.latency, args.pages, args.scripts)  # back to --latency
        if args.mode == "fairness":
            stack.stop(worker)
            return report(args, LOAD_BEFORE, CPU_REFERENCE, rows)
        timings, size = upload_latency(client, 40)
        rows.append(
            (
                f"upload p50 / p95 ({size / 1048576:.1f} MB image)",
                f"{percentile(timings, 0.5) * 1000:.0f} ms / {percentile(timings, 0.95) * 1000:.0f} ms",
            )
        )
        _, body = client.upload([SHEET.read_bytes()])
        job_id = body["data"]["job_id"]
        client.wait(job_id)
        # Three measurements, the median reported: on a shared 2-core host one 8 s run swung from 270 to 480.
        rates = sorted(status_rps(client, job_id, seconds=8, threads=16) for _ in range(3))
        rows.append(
            (
                "job status requests/s (16 connections, keep-alive; median of 3)",
                f"{rates[1]:.0f} ({' / '.join(f'{r:.0f}' for r in rates)})",
            )
        )
        stack.stop(worker)
    finally:
        stack.stop()
    return report(args, LOAD_BEFORE, CPU_REFERENCE, rows)


def streams_rows(stack: Stack, env: dict, wsgi_web: subprocess.Popen) -> list[tuple[str, str]]:
    """--mode streams, on the web server the image runs (uvicorn workers): see scripts/bench_streams.py."""
    import bench_streams

    stack.stop(wsgi_web)
    port = free_port()
    web = stack.spawn(
        "gunicorn-asgi",
        [
            str(BIN / "gunicorn"),
            "quizmarker.asgi:application",
            "--worker-class",
            "uvicorn.workers.UvicornWorker",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(ARGS.web_workers),
            "--log-level",
            "warning",
        ],
        env,
    )
    wait_http(f"http://127.0.0.1:{port}/health")
    client = Client(port, env["BENCH_TOKEN"])
    results = []
    for how in ("stream", "poll"):
        print(f"[bench] {ARGS.watchers} watchers {how} one batch of {ARGS.scripts} scripts ...", flush=True)
        results.append(
            bench_streams.phase(
                how,
                client=client,
                page=SHEET.read_bytes(),
                scripts=ARGS.scripts,
                watchers=ARGS.watchers,
                web=web,
                start_worker=lambda: start_worker(stack, env, "concurrent", ARGS.worker_pool, ARGS.worker_concurrency),
                stop_worker=stack.stop,
                cpu_seconds=cpu_seconds,
                memory_mb=memory_mb,
            )
        )
    return bench_streams.rows(results, ARGS.scripts, ARGS.watchers)


if __name__ == "__main__":
    sys.exit(main())
