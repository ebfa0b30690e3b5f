"""Run the long reliability variants (`make reliability`) and print the table of figures they prove.

    .venv/bin/python scripts/reliability.py [extra pytest arguments]

Sets RELIABILITY_FULL=1, so the fast variants skip and the long ones run: 100 scripts against a flaky provider, 10
worker kills, a 30 s Redis outage and repeated PostgreSQL outages, plus the bad-input corpus, hostile files sent to a
running web server and worker (their peak memory is printed in a section of its own), abuse and a longer API fuzz.
Each test writes its figures to .data/reliability/*-long.json; the table is printed even when a test fails.
"""

from __future__ import annotations

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


def main(argv: list[str]) -> int:
    FIGURES.mkdir(parents=True, exist_ok=True)
    for old in FIGURES.glob("*-long.json"):
        old.unlink()
    env = dict(os.environ, RELIABILITY_FULL="1", QUIZMARKER_TESTING="true")
    env.setdefault("REDIS_KEY_PREFIX", f"qmrel{os.getpid()}")
    env.setdefault("MEDIA_ROOT", str(ROOT / ".data" / "test-media-reliability"))
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", *TESTS, "-p", "no:logging", "-q", "-rfEsx", *argv]
    print("$", " ".join(command), flush=True)
    code = subprocess.call(command, cwd=ROOT, env=env)
    elapsed = time.monotonic() - started

    rows = [("test", "figure", "value")]
    for path in sorted(FIGURES.glob("*-long.json")):
        figures = json.loads(path.read_text())
        name = figures.pop("test")
        figures.pop("variant", None)
        for key, value in figures.items():
            rows.append((name, key, json.dumps(value) if isinstance(value, (dict, list)) else str(value)))
            name = ""
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
