"""Run the long reliability variants (`make reliability`) and print the table of figures they prove.

    .venv/bin/python scripts/reliability.py [extra pytest arguments]

Sets RELIABILITY_FULL=1, so the fast variants skip and the long ones run: 100 scripts against a flaky provider, 10
worker kills, a 30 s Redis outage, Redis down 30 s during a 20-script batch and back empty
(tests/reliability/test_broker_outage_batch.py), repeated PostgreSQL outages, two AI workers named as on two
hosts sharing the provider's cap with one SIGKILLed after 15 of 40 scripts (tests/reliability/test_scale_out.py),
plus the bad-input corpus, hostile files sent to a running web server and worker (their peak memory is printed in a
section of its own), abuse and a longer API fuzz. Each test writes its figures to .data/reliability/*-long.json; the
table is printed even when a test fails. Then the load case (``load_case``): 100 API clients at once upload and poll
on a stack like `make run`'s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / ".data" / "reliability"
TESTS = ["tests/reliability", "tests/security/test_fuzz_api.py", "tests/security/test_abuse.py"]


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [line]
    for n, row in enumerate(rows):
        out.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)


def load_case(clients: int = 100) -> tuple[int, list[tuple[str, str, str]]]:
    """``clients`` API clients at once, each uploading one sheet and polling its job every second to the end,
    against runserver and the threads AI worker with their database pools sized as the Procfile sizes them (the
    provider is the fake OpenAI server). Counts every answer by status and samples the PostgreSQL connections the
    stack holds. Fails (1) on any 5xx or a job that did not complete."""
    import threading
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_stack as bench

    env = bench.prepare(argparse.Namespace(concurrency=16), database=f"quizmarker_load_{os.getpid()}")
    env.update({"DATABASE_POOL": "true", "DATABASE_CONN_MAX_AGE": "0", "LOG_LEVEL": "warning"})
    threads = int(env.get("AI_WORKER_THREADS", "24"))
    stack = bench.Stack(argparse.Namespace())
    statuses: Counter = Counter()
    outcomes: Counter = Counter()
    peak = {"connections": 0}
    done = threading.Event()

    def sample_connections() -> None:
        with bench.connect(env, autocommit=True) as conn:
            while not done.wait(0.5):
                (n,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                peak["connections"] = max(peak["connections"], n)

    def one_client(n: int) -> None:
        client = bench.Client(stack.web_port, env["BENCH_TOKEN"])
        status, body = client.request("GET", "/api/v1/standards")
        statuses[status] += 1
        status, body = client.upload([bench.SHEET.read_bytes()])
        statuses[status] += 1
        if status != 202:
            outcomes[f"upload {status}"] += 1
            return
        job_id = body["data"]["job_id"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status, body = client.request("GET", f"/api/v1/jobs/{job_id}")
            statuses[status] += 1
            if status == 200 and body["data"]["status"] in ("completed", "failed", "cancelled"):
                outcomes[body["data"]["status"]] += 1
                return
            time.sleep(1.0)
        outcomes["still running after 10 min"] += 1

    started = time.monotonic()
    try:
        env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{stack.ai_port}/v1"
        stack.spawn(
            "fakeopenai", [bench.PY, "-m", "tests.fakeopenai", "--port", str(stack.ai_port), "--latency", "1"], env
        )
        stack.spawn(
            "load-web",
            [bench.PY, "manage.py", "runserver", "--noreload", f"127.0.0.1:{stack.web_port}"],
            env | {"DATABASE_POOL_MAX_SIZE": "20"},
        )
        stack.spawn(
            "load-ai-worker",
            [
                str(bench.BIN / "celery"),
                "-A",
                "quizmarker",
                "worker",
                "-Q",
                bench.EVERY_QUEUE,
                "--pool",
                "threads",
                "--concurrency",
                str(threads),
                "-n",
                "load-ai@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            env,  # its pool sizes itself from --concurrency (quizmarker/celery.py)
        )
        bench.wait_http(f"http://127.0.0.1:{stack.ai_port}/_control/stats")
        bench.wait_http(f"http://127.0.0.1:{stack.web_port}/health")
        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(one_client, range(clients)))
    finally:
        done.set()
        stack.stop()
        with bench.connect(env, database="postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {env['DATABASE_URL'].rsplit('/', 1)[1]} WITH (FORCE)")
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    rows = [
        ("load: 100 API clients", "clients", str(clients)),
        ("", "answers by status", json.dumps(dict(sorted(statuses.items())))),
        ("", "5xx answers", str(server_errors)),
        ("", "jobs", json.dumps(dict(outcomes))),
        ("", "peak PostgreSQL connections", str(peak["connections"])),
        ("", "minutes", f"{(time.monotonic() - started) / 60:.1f}"),
    ]
    failed = server_errors or outcomes.get("completed", 0) != clients
    return (1 if failed else 0), rows


USAGE = """Options: --no-load skips the load case; anything else goes to pytest (e.g. -k flaky to run one variant)."""


def main(argv: list[str]) -> int:
    if {"-h", "--help"} & set(argv):  # not pytest's help: that would start the long variants
        print(__doc__.strip(), USAGE, sep="\n\n")
        return 0
    FIGURES.mkdir(parents=True, exist_ok=True)
    for old in FIGURES.glob("*-long.json"):
        old.unlink()
    env = dict(os.environ, RELIABILITY_FULL="1", QUIZMARKER_TESTING="true")
    env.setdefault("REDIS_KEY_PREFIX", f"qmrel{os.getpid()}")
    env.setdefault("MEDIA_ROOT", str(ROOT / ".data" / "test-media-reliability"))
    started = time.monotonic()
    pytest_args = [a for a in argv if a != "--no-load"]
    command = [sys.executable, "-m", "pytest", *TESTS, "-p", "no:logging", "-q", "-rfEsx", *pytest_args]
    print("$", " ".join(command), flush=True)
    code = subprocess.call(command, cwd=ROOT, env=env)
    elapsed = time.monotonic() - started

    if "--no-load" not in argv:
        load_code, load_rows = load_case()
        code = code or load_code
    else:
        load_rows = []
    rows = [("test", "figure", "value")]
    for path in sorted(FIGURES.glob("*-long.json")):
        figures = json.loads(path.read_text())
        name = figures.pop("test")
        figures.pop("variant", None)
        for key, value in figures.items():
            rows.append((name, key, json.dumps(value) if isinstance(value, (dict, list)) else str(value)))
            name = ""
    rows += load_rows
    print()
    print(f"Reliability figures (long run, {elapsed / 60:.1f} min, pytest exit code {code}):")
    print(table(rows) if len(rows) > 1 else "(no figures were written)")
    hostile_files_section()
    return code


def hostile_files_section() -> None:
    """Hostile files (tests/reliability/test_hostile_stack.py, long variant): a web server and an AI worker started as
    `make run` starts them are sent the bombs of scripts/make_bad_inputs.py by three clients at once; the peak
    memory (VmHWM) of each process, and whether both still serve."""
    path = FIGURES / "hostile_files-long.json"
    print()
    if not path.exists():
        print("Hostile files: no figures (tests/reliability/test_hostile_stack.py did not run to its end).")
        return
    figures = json.loads(path.read_text())
    print("Hostile files (deflate bomb, 200-inch page, 10-gigapixel PNG, 400-megapixel PNG, photo with GPS EXIF):")
    print(f"  peak memory (RSS): web {figures['web_peak_rss_mb']} MB, AI worker {figures['worker_peak_rss_mb']} MB")
    print("  answers: " + ", ".join(f"{name} {codes}" for name, codes in figures["answers"].items()))
    print(f"  accepted hostile jobs: {figures['hostile_jobs']}")
    serves = figures["web_still_serves"] and figures["worker_completes_an_ordinary_upload_after"] == "completed"
    print(f"  web and worker still serve: {'yes' if serves else 'NO'}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
