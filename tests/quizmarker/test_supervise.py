"""`make run`'s supervisor (scripts/supervise.py) on a Procfile of its own: a process that exits is started again
with a line saying so, the others keep running, and Ctrl-C (SIGINT) stops every process."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT, wait_until


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def lines_of(popen: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def read():
        for raw in iter(popen.stdout.readline, b""):
            lines.put(raw.decode().rstrip())
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for(lines: queue.Queue, text: str, seen: list[str], timeout: float = 20) -> str:
    while True:
        line = lines.get(timeout=timeout)
        assert line is not None, f"the supervisor ended before saying {text!r}: {seen}"
        seen.append(line)
        if text in line:
            return line


def start_supervisor(procfile: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "supervise.py"), "-f", str(procfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1", **env),
    )


@contextlib.contextmanager
def supervising(folder: Path, procfile: str, **env: str) -> Iterator[tuple[subprocess.Popen, queue.Queue]]:
    """The supervisor on a Procfile of these lines, written into ``folder``, and the queue of what it says. At the end
    it gets Ctrl-C (SIGINT) if it still runs, and is killed if that does not stop it."""
    (folder / "Procfile").write_text(procfile)
    supervisor = start_supervisor(folder / "Procfile", **env)
    try:
        yield supervisor, lines_of(supervisor)
    finally:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGINT)
            try:
                supervisor.wait(timeout=40)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait()


def test_a_line_that_sets_variables_before_its_command_runs_it_with_them(tmp_path):
    # As the Procfile's web and beat lines do (DATABASE_POOL=false celery ...): sh cannot `exec NAME=value cmd`,
    # which left make run's web server, worker and beat exiting with 127 on every restart.
    with supervising(tmp_path, "greeter: GREETING=hello${SUFFIX:-!} printenv GREETING\n") as (_, lines):
        seen: list[str] = []
        wait_for(lines, "greeter    | hello!", seen)
        said = wait_for(lines, "greeter exited with code", seen)
        assert "exited with code 0" in said, seen


def test_a_process_that_exits_is_restarted_and_ctrl_c_stops_everything(tmp_path):
    pids = tmp_path / "steady.pid"
    procfile = (
        "# a comment\n"
        "flaky: echo flaky run; exit 3\n"
        f"steady: sh -c 'echo $$ > {pids}; echo steady up; while true; do sleep 1; done'\n"
    )
    with supervising(tmp_path, procfile) as (supervisor, lines):
        seen: list[str] = []
        wait_for(lines, "steady up", seen)
        said = wait_for(lines, "flaky exited with code 3", seen)
        assert "restarting it in 1 s" in said, said
        wait_for(lines, "flaky      | flaky run", seen)  # ran again
        said = wait_for(lines, "flaky exited with code 3", seen)
        assert "restarting it in 2 s" in said, "the pause doubles with each quick exit"
        steady_pid = int(pids.read_text())
        assert alive(steady_pid), "the steady process was never touched"

        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=30) == 0
        wait_for(lines, "all stopped", seen)
        wait_until(lambda: not alive(steady_pid), timeout=10, what="Ctrl-C to stop the steady process too")
        assert sum("steady" in line and "started" in line for line in seen) == 1
