#!/usr/bin/env python
"""Run the processes of a Procfile together, as `make run` does, and keep them running.

    python scripts/supervise.py [-f Procfile]

Each line `name: command` runs through /bin/sh (so ${VAR:-default} works), with its output prefixed by its name.
A process that exits is started again after a pause that doubles with each quick exit (1 s, 2 s, 4 s ... 30 s; back
to 1 s once it has run a minute), with a line saying so: one process dying (say, a worker when Redis restarts) never
ends the stack. Ctrl-C (or SIGTERM) stops them all: each process group gets SIGTERM, then SIGKILL after 20 s; a second
Ctrl-C kills at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STEADY_AFTER = 60.0  # seconds of running after which a process's next exit starts the backoff afresh
STOP_GRACE = 20.0

_print_lock = threading.Lock()


def say(name: str, line: str) -> None:
    with _print_lock:
        print(f"{time.strftime('%H:%M:%S')} {name:<10} | {line}", flush=True)


def read_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        if not command.strip():
            raise SystemExit(f"{path}: a line must read `name: command`: {raw!r}")
        entries.append((name.strip(), command.strip()))
    return entries


@dataclass
class Process:
    name: str
    command: str
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None
    readers: list[threading.Thread] = field(default_factory=list)

    def start(self, env: dict[str, str], cwd: Path) -> None:
        # A simple command replaces its shell (exec), so that the process waited for is the program itself; through
        # env(1), since `exec NAME=value program` is no command to sh, while `exec env NAME=value program` is.
        simple = not any(mark in self.command for mark in ";&|")
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", f"exec env {self.command}" if simple else self.command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops each group itself
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        say(self.name, f"started (pid {self.popen.pid})")
        reader = threading.Thread(target=self._relay, args=(self.popen,), daemon=True)
        reader.start()
        self.readers = [reader]

    def _relay(self, popen: subprocess.Popen) -> None:
        for raw in iter(popen.stdout.readline, b""):
            say(self.name, raw.decode(errors="replace").rstrip())

    def signal_group(self, signum: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)


class Supervisor:
    def __init__(self, entries: list[tuple[str, str]], env: dict[str, str], cwd: Path):
        self.processes = [Process(name, command) for name, command in entries]
        self.env = env
        self.cwd = cwd
        self.stopping = threading.Event()

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for process in self.processes:
                process.start(self.env, self.cwd)
            while not self.stopping.wait(0.2):
                self._tend()
            return self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_stop_signal(self, signum, frame) -> None:
        # No printing here: the signal may land while this thread holds the print lock (say), and waiting for it
        # would wait forever. The loop in run() says that it is stopping.
        if self.stopping.is_set():  # a second Ctrl-C: no more waiting
            for process in self.processes:
                process.signal_group(signal.SIGKILL)
            return
        self.stopping.set()

    def _tend(self) -> None:
        now = time.monotonic()
        for process in self.processes:
            code = process.popen.poll() if process.popen else None
            if process.restart_at is None and code is not None:
                ran = now - process.started_at
                process.quick_exits = 0 if ran >= STEADY_AFTER else process.quick_exits + 1
                delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, process.quick_exits - 1))
                say(
                    "supervisor",
                    f"{process.name} exited with code {code} after {ran:.0f} s; restarting it in {delay:.0f} s",
                )
                process.restart_at = now + delay
            elif process.restart_at is not None and now >= process.restart_at:
                process.start(self.env, self.cwd)

    def _stop_all(self) -> int:
        say("supervisor", "stopping every process (Ctrl-C again to kill them at once)")
        for process in self.processes:
            process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self.processes:
            if process.popen is None:
                continue
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say("supervisor", f"{process.name} did not stop within {STOP_GRACE:.0f} s; killing it")
                process.signal_group(signal.SIGKILL)
                process.popen.wait()
            for reader in process.readers:
                reader.join(2)
        say("supervisor", "all stopped")
        return 0


def supervise(procfile: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    return Supervisor(read_procfile(procfile), dict(env or os.environ), cwd or procfile.parent).run()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("-f", "--procfile", default="Procfile", type=Path)
    args = parser.parse_args(argv)
    return supervise(args.procfile.resolve())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
