"""scripts/reliability.py (`make reliability`) answers --help with its usage instead of starting the long variants."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_help_prints_the_usage_and_runs_nothing(tmp_path):
    figures = ROOT / ".data" / "reliability"
    before = sorted(figures.glob("*-long.json")) if figures.exists() else []
    done = subprocess.run(
        [sys.executable, "scripts/reliability.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Run the long reliability variants (`make reliability`)")
    assert "--no-load skips the load case" in done.stdout
    assert "pytest" not in done.stdout.splitlines()[0] and "$ " not in done.stdout, "no test run was started"
    after = sorted(figures.glob("*-long.json")) if figures.exists() else []
    assert after == before, "the figures of an earlier run are kept"
