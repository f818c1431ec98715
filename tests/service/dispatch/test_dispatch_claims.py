"""Plan claiming on both backends: racing workers, a stopping worker hands its plan back, stale plans re-claimed."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update

from services.dispatch import service, store, worker
from services.dispatch.commands import PlanDay
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.runtime import ServiceContext
from tests.service.dispatch.dispatch_support import DISPATCHER, next_monday


def _queue(ctx: ServiceContext, n: int, time_limit_s: float = 0.5) -> list[str]:
    return [service.queue_plan(ctx, DISPATCHER, PlanDay(next_monday(), time_limit_s, 1))["id"] for _ in range(n)]


def test_two_workers_racing_claim_each_plan_exactly_once(service_ctx: ServiceContext) -> None:
    queued = _queue(service_ctx, 12)
    claimed: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def claim_all(name: str) -> None:
        try:
            start.wait()
            while (plan_id := worker.claim_plan(service_ctx, f"worker-{name}")) is not None:
                claimed[name].append(plan_id)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=claim_all, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    together = claimed["a"] + claimed["b"]
    assert sorted(together) == sorted(queued)  # every plan claimed, none twice
    with service_ctx.factory() as session:
        owners = {p: store.plan(session, p)["claimed_by"] for p in queued}  # type: ignore[index]
    assert {owners[p] for p in claimed["a"]} <= {"worker-a"} and {owners[p] for p in claimed["b"]} <= {"worker-b"}


def test_a_stopping_worker_hands_its_plan_back_at_once(service_ctx: ServiceContext) -> None:
    (plan_id,) = _queue(service_ctx, 1, time_limit_s=30)
    stop = threading.Event()
    thread = threading.Thread(target=worker.plan_worker, args=(service_ctx, stop))
    thread.start()
    for _ in range(200):  # wait until the worker has claimed it
        if service.get_plan(service_ctx, plan_id)["status"] == "solving":
            break
        stop.wait(0.05)
    assert service.get_plan(service_ctx, plan_id)["status"] == "solving"
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    plan = service.get_plan(service_ctx, plan_id)
    assert plan["status"] == "queued" and plan["claimed_by"] is None  # back in the queue, not left to go stale
    assert worker.claim_plan(service_ctx, "next-worker") == plan_id  # another worker takes it straight away


def test_a_plan_whose_worker_stopped_beating_is_claimed_again_and_the_old_worker_cannot_write(
    service_ctx: ServiceContext,
) -> None:
    (plan_id,) = _queue(service_ctx, 1)
    assert worker.claim_plan(service_ctx, "gone") == plan_id
    assert worker.claim_plan(service_ctx, "other") is None  # it is being solved
    with unit_of_work(service_ctx.factory) as session:  # the first worker died: its heartbeat ages
        old = utcnow() - timedelta(seconds=worker.STALE_AFTER_S + 5)
        session.execute(update(store.plans).where(store.plans.c.id == plan_id).values(heartbeat_at=old))
    assert worker.claim_plan(service_ctx, "other") == plan_id
    with unit_of_work(service_ctx.factory) as session:
        assert not store.finish_plan(session, plan_id, "gone", utcnow(), status="failed", result=None, error="late")
    worker.run_plan(service_ctx, plan_id, "other")
    plan = service.get_plan(service_ctx, plan_id)
    assert plan["status"] == "solved" and plan["claimed_by"] == "other", plan["error"]


def test_a_long_solve_shows_its_first_plan_while_still_solving(service_ctx: ServiceContext) -> None:
    (plan_id,) = _queue(service_ctx, 1, time_limit_s=worker.TWO_PHASE_FROM_S)
    stop = threading.Event()
    thread = threading.Thread(target=worker.plan_worker, args=(service_ctx, stop))
    thread.start()
    seen_draft = None
    try:
        for _ in range(600):
            poll = service.plan_progress(service_ctx, plan_id)
            if poll["status"] == "solving" and poll["has_routes"]:
                seen_draft = poll
                break
            if poll["status"] not in ("queued", "solving"):
                break
            stop.wait(0.05)
        assert seen_draft is not None, "the first plan should be on the board before the solve ends"
        assert seen_draft["totals"]["stops_served"] > 0 and seen_draft["progress"]
        for _ in range(600):
            if service.plan_progress(service_ctx, plan_id)["status"] == "solved":
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(30)
    final = service.get_plan(service_ctx, plan_id)
    assert final["status"] == "solved", final["error"]
    objectives = [o for _, o in final["progress"]]
    assert objectives == sorted(objectives, reverse=True)  # the best so far never rises
    assert final["result"]["objective"] <= seen_draft["progress"][-1][1]
