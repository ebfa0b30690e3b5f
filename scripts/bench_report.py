"""`make bench`'s machine figures (a CPU reference, the processor, the offline grader's speed) and its report: the
table printed and appended, with the machine it ran on, to BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_stack import ROOT


def cpu_reference() -> float:
    """Seconds this machine takes for 10 million pure-Python additions (best of 3): compares runs across machines."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def cpu_model() -> str:
    """The processor's name, recorded beside the CPU reference: hosts differ from session to session."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def local_grading_rows() -> list[tuple[str, str]]:
    """The offline grader's speed, in this process: splitting a standard's reference (cached after the first call)
    and grading one answer against it. (Measured here rather than asserted in the tests, where a loaded 2-core
    machine made any threshold flaky; the tests used to ask for under 2 ms and under 20 ms.)"""
    import pdfplumber

    from grading.providers.local_grading import grade_answer, split_reference

    standards = json.loads((ROOT / "reference_pdfs" / "source" / "standards.json").read_text(encoding="utf-8"))
    standard = next(s for s in standards if s["id"] == 9)
    question = standard["quiz"][0]
    with pdfplumber.open(ROOT / "reference_pdfs" / "Standard-9.pdf") as pdf:
        reference = "\n".join(page.extract_text() or "" for page in pdf.pages)
    split_reference(reference)
    started = time.perf_counter()
    for _ in range(200):
        split_reference(reference)
    split = (time.perf_counter() - started) / 200
    started = time.perf_counter()
    for _ in range(50):
        grade_answer(question["question"], question["full_answer"], reference, question["max_score"])
    graded = (time.perf_counter() - started) / 50
    return [
        ("local grader: split a reference again (cached), per call", f"{split * 1e6:.1f} µs"),
        ("local grader: grade one answer (reference already split), per call", f"{graded * 1000:.2f} ms"),
    ]


def report(args, load_before: float, cpu_reference_seconds: float, rows: list[tuple[str, str]]) -> int:
    """Print the table and append it, with the machine it ran on, to BENCHMARKS.md (unless --no-write)."""
    width = max(len(r[0]) for r in rows)
    table = "\n".join(f"| {name.ljust(width)} | {value} |" for name, value in rows)
    header = f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|"
    print("\n" + header + "\n" + table)
    if not args.no_write:
        mode_args = (
            f" --fairness-scripts {args.fairness_scripts} --fairness-delay {args.fairness_delay}"
            f" --fairness-latency {args.fairness_latency}"
            if args.mode in ("both", "fairness")
            else ""
        )
        if args.mode == "scaleout":
            mode_args = (
                f" --scaleout-scripts {args.scaleout_scripts} --scaleout-organizations {args.scaleout_organizations}"
                f" --scaleout-cap {args.scaleout_cap} --scaleout-latency {args.scaleout_latency}"
                f" --scaleout-workers {args.scaleout_workers}"
                + (" --scaleout-upload-first" if args.scaleout_upload_first else "")
            )
        machine = (
            f"{platform.node()}: {os.cpu_count()} cores ({cpu_model()}), {platform.machine()}, Python "
            f"{platform.python_version()}, {platform.platform()}; load average before the run "
            f"{load_before:.2f}; 10⁷ Python additions {cpu_reference_seconds:.2f} s"
        )
        with (ROOT / "BENCHMARKS.md").open("a") as out:
            out.write(
                f"\n## Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"`python scripts/bench.py --scripts {args.scripts} --pages {args.pages} --latency {args.latency} "
                f"--concurrency {args.concurrency} --worker-pool {args.worker_pool} "
                f"--worker-concurrency {args.worker_concurrency} "
                f"--web-workers {args.web_workers} --web-threads {args.web_threads} --mode {args.mode}"
                f"{mode_args}` "
                f"on {machine}\n\n{header}\n{table}\n"
            )
    return 0
