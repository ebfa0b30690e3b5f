"""A small pool of child processes that open untrusted files under limits, so that a hostile file costs a child
process, never the web server or the AI worker that every organization's jobs run on.

Each child has an address-space limit (RLIMIT_AS: a file that needs more memory gets a MemoryError, or the child
dies), a CPU-time limit per task (RLIMIT_CPU, moved forward before each task: the kernel ends a child that computes
too long) and a wall-clock limit enforced here (a child that does not answer in time is killed). A task runs in a
child of its own for its whole duration, so a file that kills its child fails only its own task; the pool starts a
new child in its place. Children are reused (starting one costs ~0.3 s of imports) and replaced after
``tasks_per_child`` tasks or any failure, so memory a task left behind does not accumulate; a child is started in the
background when the pool is made and whenever one is retired, so a file seldom waits for a child to start.

Why not concurrent.futures.ProcessPoolExecutor: when one of its children dies, every task in flight fails with
BrokenProcessPool (another organization's upload with it), and it cannot stop a task that runs too long. Why not
multiprocessing at all: Celery's prefork workers are daemonic processes, which multiprocessing forbids to have
children. A child is a plain ``python -m grading.sandbox`` speaking length-prefixed pickles over its stdin and stdout
(we only ever unpickle what our own child sent).

The tasks a child may run are the ones in ``grading.file_tasks.TASKS``; nothing here imports Django at module level,
so the children do not either.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

TASKS_MODULE = "grading.file_tasks"
ROOT = Path(__file__).resolve().parent.parent
_HEADER = struct.Struct(">Q")


class SandboxLimit(Exception):
    """A task went past a limit: ``kind`` is "memory" or "time"."""

    def __init__(self, kind: str, limit: float):
        super().__init__(kind, limit)
        self.kind = kind
        self.limit = limit


class SandboxFailure(Exception):
    """A task raised an unexpected error in its child (the file is damaged in a way the libraries do not expect)."""


def _write(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read(fd: int):
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return pickle.loads(_read_exactly(fd, size))


def serve(tasks_module: str, memory_bytes: int, cpu_seconds: int) -> None:
    """The child's loop: read (task, args), run it under the limits, answer ("ok", result) or why it failed."""
    requests, replies = 0, os.dup(1)
    os.dup2(2, 1)  # a library that prints cannot corrupt the replies
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which ends the pool
    module = importlib.import_module(tasks_module)
    tasks, problem = module.TASKS, getattr(module, "FileProblem", ())
    while True:
        try:
            name, args = _read(requests)
        except EOFError:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        spent = usage.ru_utime + usage.ru_stime
        resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(spent + cpu_seconds), resource.RLIM_INFINITY))
        try:
            reply = ("ok", tasks[name](*args))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:
            reply = ("problem", exc) if isinstance(exc, problem) else ("failed", f"{type(exc).__name__}: {exc}"[:500])
        try:
            _write(replies, reply)
        except MemoryError:
            _write(replies, ("memory", None))


class _Child:
    def __init__(self, config: Config):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grading.sandbox", config.tasks_module, str(config.memory_bytes)]
            + [str(config.cpu_seconds)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.uses = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, name: str, args: tuple, config: Config):
        self.uses += 1
        try:
            _write(self.process.stdin.fileno(), (name, args))
            readable, _, _ = select.select([self.process.stdout], [], [], config.deadline)
            if readable:
                return _read(self.process.stdout.fileno())
        except (EOFError, OSError):
            try:
                code = self.process.wait(5)
            except subprocess.TimeoutExpired:
                code = None
            if code == -signal.SIGXCPU:
                raise SandboxLimit("time", config.cpu_seconds) from None
            raise SandboxLimit("memory", config.memory_bytes) from None
        self.close()
        raise SandboxLimit("time", config.cpu_seconds)

    def close(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()


@dataclass(frozen=True)
class Config:
    processes: int = 2
    memory_bytes: int = 768 * 1024 * 1024
    cpu_seconds: int = 20
    tasks_per_child: int = 50
    tasks_module: str = TASKS_MODULE
    wall_seconds: float = 0.0  # 0: three times the CPU time and 5 s (a loaded machine gets time to deliver it)

    @property
    def deadline(self) -> float:
        return self.wall_seconds or self.cpu_seconds * 3 + 5


class Sandbox:
    def __init__(self, config: Config):
        self.config = config
        self._slots = threading.BoundedSemaphore(config.processes)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False

    def run(self, name: str, *args):
        """Run a task in a child and return its result. Raises the task's own FileProblem, SandboxLimit when the
        child went past a limit, SandboxFailure when the task failed in an unexpected way."""
        with self._slots:
            child = self._take()
            healthy = False
            try:
                status, value = child.call(name, args, self.config)
                healthy = status in ("ok", "problem")
            finally:
                self._give_back(child, healthy)
        if status == "ok":
            return value
        if status == "problem":
            raise value
        if status == "memory":
            raise SandboxLimit("memory", self.config.memory_bytes)
        raise SandboxFailure(value)

    def prestart(self) -> None:
        """Start a child ahead of the task that will need it."""
        child = _Child(self.config)
        with self._lock:
            if not self._closed and len(self._idle) < self.config.processes:
                self._idle.append(child)
                return
        child.close()

    def _take(self) -> _Child:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                child.close()
        return _Child(self.config)

    def _give_back(self, child: _Child, healthy: bool) -> None:
        with self._lock:
            fits = len(self._idle) < self.config.processes
            if healthy and fits and not self._closed and child.uses < self.config.tasks_per_child:
                self._idle.append(child)
                return
            replace = fits and not self._closed
        child.close()
        if replace:  # a retired or failed child's successor starts now, not when the next file is waiting for it
            threading.Thread(target=self.prestart, daemon=True, name="file-sandbox-prestart").start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.close()


_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def sandbox() -> Sandbox:
    """This process's pool, sized and limited by the FILE_SANDBOX_* settings (a new pool when they change)."""
    global _sandbox
    from django.conf import settings

    config = Config(
        processes=settings.FILE_SANDBOX_PROCESSES,
        memory_bytes=settings.FILE_SANDBOX_MEMORY_MB * 1024 * 1024,
        cpu_seconds=settings.FILE_SANDBOX_CPU_SECONDS,
    )
    with _sandbox_lock:
        if _sandbox is None or _sandbox.config != config:
            if _sandbox is not None:
                _sandbox.close()
            _sandbox = Sandbox(config)
            threading.Thread(target=_sandbox.prestart, daemon=True, name="file-sandbox-prestart").start()
        return _sandbox


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
