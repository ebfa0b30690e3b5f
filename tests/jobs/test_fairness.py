"""Fair turns between organizations in the job queue, on the real broker (issue #19): a free worker is handed the job of
an organization with little in flight before a busy organization's batch, and a busy organization alone still gets
all its jobs handed out, in its own order."""

from __future__ import annotations

import threading
from contextlib import ExitStack

from jobs import fairness
from jobs.models import BackgroundJob
from jobs.starting import publish


def handed_out(count: int) -> list[str]:
    """The task ids of the default queue's next ``count`` messages, in the order Celery's Redis transport hands them
    to a free worker (and off the queue, so no worker runs them)."""
    from quizmarker.celery import app

    with app.connection_for_read() as connection:
        channel = connection.default_channel
        messages = [channel.basic_get("default", no_ack=True) for _ in range(count)]
    return [message.headers["id"] if message else None for message in messages]


def test_a_lone_job_of_another_organization_is_handed_out_before_a_busy_organizations_batch(
    only_this_tests_jobs, make_job, personas, broker_queue
):
    batch = []
    for _ in range(30):  # Alpha's batch: each job is published as its upload is accepted, one after the other
        job = make_job()
        publish(job.pk)
        job.refresh_from_db()
        batch.append(job.celery_task_id)
    lone = make_job(organization=personas.beta, user=personas.charlie)  # Beta uploads one script afterwards
    publish(lone.pk)
    lone.refresh_from_db()

    order = handed_out(32)

    assert order[31] is None, "every message was handed out: a busy organization's jobs are not held back"
    assert order.index(lone.celery_task_id) == 2, "only Alpha's first two jobs (then its only ones) go before Beta's"
    assert [task for task in order[:31] if task != lone.celery_task_id] == batch, "Alpha's jobs keep their order"
    assert len(broker_queue) == 0


def test_one_organizations_jobs_may_hold_every_thread_of_a_threads_worker_but_a_reserve_for_others(monkeypatch):
    monkeypatch.setattr(fairness, "_threads", 0)
    fairness.set_worker_threads(16)  # a reserve of 2
    with ExitStack() as running:
        admitted = [running.enter_context(fairness.worker_turn("alpha")) for _ in range(15)]
        assert admitted == [True] * 14 + [False], "Alpha's 15th job waits: two threads stay free"
        with fairness.worker_turn("beta") as beta, fairness.worker_turn("gamma") as gamma:
            assert (beta, gamma) == (True, True), "the reserve runs other organizations' jobs"
    with fairness.worker_turn("alpha") as again:
        assert again, "a finished job gives its thread back to its organization's count"
    assert fairness._holding == {}


def test_a_job_past_its_share_parks_while_nobody_else_waits_and_runs_when_its_own_thread_frees(monkeypatch):
    monkeypatch.setattr(fairness, "_threads", 0)
    monkeypatch.setattr(fairness, "PARK_SECONDS", 0.01)
    fairness.set_worker_threads(16)  # a reserve of 2
    others = threading.Event()
    outcome = []

    def fifteenth():
        with fairness.worker_turn("alpha", others.is_set) as admitted:
            outcome.append(admitted)

    with ExitStack() as running:
        first = ExitStack()
        assert first.enter_context(fairness.worker_turn("alpha", others.is_set))
        assert all(running.enter_context(fairness.worker_turn("alpha", others.is_set)) for _ in range(13))
        parked = threading.Thread(target=fifteenth)
        parked.start()
        parked.join(0.2)
        assert parked.is_alive() and outcome == [], "past the share with nobody else waiting: it parks, not handed back"
        first.close()  # one of Alpha's own jobs ends
        parked.join(2)
        assert outcome == [True], "it runs on its organization's freed thread, in its turn"

        outcome.clear()
        assert running.enter_context(fairness.worker_turn("alpha", others.is_set)), "Alpha holds 14 again"
        parked = threading.Thread(target=fifteenth)
        parked.start()
        parked.join(0.2)
        assert parked.is_alive(), "parked again"
        others.set()  # another organization's job is queued
        parked.join(2)
        assert outcome == [False], "it gives its thread up for the other organization's job"
    assert fairness._holding == {}


def test_others_queued_sees_only_other_organizations_queued_jobs_on_the_same_queue(
    only_this_tests_jobs, make_job, personas
):
    make_job()  # Alpha's own queued job
    assert fairness.others_queued("alpha", ["extraction", "grading"]) is False
    betas = make_job(organization=personas.beta, user=personas.charlie)
    assert fairness.others_queued("alpha", ["extraction", "grading"]) is True
    assert fairness.others_queued("alpha", ["email"]) is False, "another queue's jobs do not count"
    BackgroundJob.objects.filter(pk=betas.pk).update(status="processing")
    assert fairness.others_queued("alpha", ["extraction", "grading"]) is False, "only waiting jobs count"


def test_a_worker_that_is_not_a_threads_worker_keeps_no_reserve(monkeypatch):
    monkeypatch.setattr(fairness, "_threads", 0)
    with ExitStack() as running:
        assert all(running.enter_context(fairness.worker_turn("alpha")) for _ in range(50))


def test_a_high_priority_job_is_handed_out_at_the_top_step_however_busy_its_organization(
    only_this_tests_jobs, make_job, personas, broker_queue
):
    batch = []
    for _ in range(10):
        job = make_job()
        publish(job.pk)
        job.refresh_from_db()
        batch.append(job.celery_task_id)
    urgent = make_job(priority="high")  # stored on the job: the sweeper's publish after an outage reads it the same way
    publish(urgent.pk)
    urgent.refresh_from_db()

    order = handed_out(11)

    assert order.index(urgent.celery_task_id) == 2, "after Alpha's first two (the top step too), before the rest"
    assert [task for task in order if task != urgent.celery_task_id] == batch


def test_a_job_past_its_organizations_threads_hands_its_message_back_and_anothers_runs(
    db, monkeypatch, make_job, personas
):
    from collections import Counter

    from jobs.tasks import run_extraction

    monkeypatch.setattr(fairness, "_threads", 8)
    monkeypatch.setattr(fairness, "_holding", Counter({"alpha": 7}))  # Alpha's jobs hold all threads but the reserve
    alphas, betas = make_job(), make_job(organization=personas.beta, user=personas.charlie)

    handed_back = run_extraction.apply(args=[str(alphas.pk)], headers={"_schema_name": "alpha"})
    ran = run_extraction.apply(args=[str(betas.pk)], headers={"_schema_name": "beta"})

    assert handed_back.state == "REJECTED" and isinstance(handed_back.result, fairness.HandedBack)
    assert handed_back.result.requeue is True, "back to its queue, not dropped"
    alphas.refresh_from_db()
    assert (alphas.status, alphas.started_at) == ("queued", None), "the engine never saw it"
    assert (ran.state, ran.result) == ("SUCCESS", "stale"), "Beta's job reached the engine (its message id is not "
    "the job's here, so the engine calls it stale)"
    assert fairness._holding == {"alpha": 7}


def test_a_threads_worker_sets_its_reserve_from_its_concurrency_and_a_prefork_one_keeps_none(monkeypatch):
    from types import SimpleNamespace

    from celery.concurrency.prefork import TaskPool as PreforkPool
    from celery.concurrency.thread import TaskPool as ThreadPool

    from quizmarker.celery import reserve_threads_for_other_organizations

    monkeypatch.setattr(fairness, "_threads", 0)
    reserve_threads_for_other_organizations(sender=SimpleNamespace(concurrency=12, pool_cls=PreforkPool))
    assert fairness._threads == 0
    reserve_threads_for_other_organizations(sender=SimpleNamespace(concurrency=24, pool_cls=ThreadPool))
    assert fairness._threads == 24 and fairness.reserve(24) == 3
