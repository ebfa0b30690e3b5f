"""The file sandbox's pool (grading/sandbox.py) with real child processes running tasks that misbehave on purpose
(tests/sandbox_tasks.py): a child past its memory, CPU or wall-clock limit fails its own task only, the caller gets
a SandboxLimit naming which, and the next task gets a fresh child."""

from __future__ import annotations

import threading

import pytest

from grading.sandbox import Config, Sandbox, SandboxFailure, SandboxLimit

MB = 1024 * 1024


@pytest.fixture
def pool():
    sandbox = Sandbox(Config(processes=2, memory_bytes=400 * MB, cpu_seconds=1, tasks_module="tests.sandbox_tasks"))
    yield sandbox
    sandbox.close()


def test_a_child_is_reused_between_tasks(pool):
    first = pool.run("pid")
    assert pool.run("pid") == first
    assert pool.run("echo", {"a": [1, 2]}) == {"a": [1, 2]}


def test_a_task_past_the_memory_limit_fails_alone_and_the_next_one_gets_a_new_child(pool):
    before = pool.run("pid")
    assert pool.run("allocate", 50) == 50 * MB  # within the limit
    with pytest.raises(SandboxLimit) as refused:
        pool.run("allocate", 1024)
    assert (refused.value.kind, refused.value.limit) == ("memory", 400 * MB)
    assert pool.run("pid") != before  # the child that failed is not reused
    assert pool.run("allocate", 50) == 50 * MB


def test_a_child_that_dies_in_c_code_is_reported_as_past_its_memory_limit(pool):
    with pytest.raises(SandboxLimit) as refused:
        pool.run("crash")
    assert refused.value.kind == "memory"
    assert pool.run("echo", 1) == 1


def test_a_task_past_its_cpu_time_is_ended_by_the_kernel(pool):
    with pytest.raises(SandboxLimit) as refused:
        pool.run("spin")
    assert (refused.value.kind, refused.value.limit) == ("time", 1)
    assert pool.run("echo", "still here") == "still here"


def test_cpu_time_is_counted_per_task_not_per_child(pool):
    """A reused child has spent CPU on earlier tasks; each task gets the full allowance again."""
    child = pool.run("pid")
    assert [pool.run("burn", 0.6) for _ in range(3)] == [0.6] * 3  # 1.8 s of CPU in one child, 0.6 s a task
    assert pool.run("pid") == child


def test_a_task_that_does_not_answer_in_time_is_killed():
    sandbox = Sandbox(Config(processes=1, cpu_seconds=1, wall_seconds=1, tasks_module="tests.sandbox_tasks"))
    try:
        with pytest.raises(SandboxLimit) as refused:
            sandbox.run("sleep", 600)  # no CPU spent: only the wall clock catches it
        assert refused.value.kind == "time"
        assert sandbox.run("echo", 2) == 2
    finally:
        sandbox.close()


def test_an_unexpected_error_is_a_failure_not_a_limit(pool):
    with pytest.raises(SandboxFailure, match="RuntimeError: something no file check expected"):
        pool.run("fail")


def test_another_callers_task_is_not_hurt_by_a_child_that_dies_beside_it(pool):
    results: dict[str, object] = {}
    started = threading.Event()

    def hostile():
        started.set()
        try:
            pool.run("allocate", 2048)
        except SandboxLimit as exc:
            results["hostile"] = exc.kind

    thread = threading.Thread(target=hostile)
    thread.start()
    started.wait()
    results["innocent"] = [pool.run("allocate", 20) for _ in range(5)]
    thread.join()
    assert results == {"hostile": "memory", "innocent": [20 * MB] * 5}
