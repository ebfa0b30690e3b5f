"""Tasks for the file sandbox's own tests (tests/grading/test_file_sandbox.py), misbehaving on purpose."""

from __future__ import annotations

import os
import time


def echo(value):
    return value


def pid() -> int:
    return os.getpid()


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def spin() -> None:
    while True:
        pass


def burn(cpu_seconds: float) -> float:
    started = time.process_time()
    while time.process_time() - started < cpu_seconds:
        pass
    return cpu_seconds


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def crash() -> None:
    os.abort()  # what a C library does when it cannot allocate


def fail() -> None:
    raise RuntimeError("something no file check expected")


TASKS = {f.__name__: f for f in (echo, pid, allocate, spin, burn, sleep, crash, fail)}
