"""A solve that ends while the database is away records its outcome once the database is back.

bench.soak found it: PostgreSQL restarted while the worker was solving, the final write failed in
the solve thread, and the finished plan stayed "solving" until it went stale (STALE_AFTER_S, 120 s)
and was solved again. Here the real store refuses the first writes of the outcome with the error a
stopped PostgreSQL gives (connection refused, a psycopg OperationalError), then takes it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from services.dispatch import service, store, worker
from services.dispatch.commands import PlanDay
from shared.runtime import ServiceContext
from tests.service.dispatch.dispatch_support import DISPATCHER, next_monday


def test_an_outcome_written_during_a_database_outage_is_written_when_it_returns(
    service_ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = service.queue_plan(service_ctx, DISPATCHER, PlanDay(next_monday(), 0.5, 1))["id"]
    assert worker.claim_plan(service_ctx, "w1") == plan_id
    real_finish = store.finish_plan
    calls = {"refused": 0, "taken": 0}

    def finish_after_outage(*args: Any, **kwargs: Any) -> bool:
        if calls["refused"] < 3:
            calls["refused"] += 1
            raise OperationalError("UPDATE plans", {}, psycopg.OperationalError("connection failed: Connection refused"))
        calls["taken"] += 1
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(worker, "FINISH_RETRY_S", 0.05)
    monkeypatch.setattr(store, "finish_plan", finish_after_outage)
    assert worker.run_plan(service_ctx, plan_id, "w1") == "done"
    assert calls == {"refused": 3, "taken": 1}
    plan = service.get_plan(service_ctx, plan_id)
    assert plan["status"] == "solved" and plan["result"] is not None, plan["error"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the solve thread's error
def test_an_error_other_than_an_outage_is_not_retried(
    service_ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = service.queue_plan(service_ctx, DISPATCHER, PlanDay(next_monday(), 0.5, 1))["id"]
    assert worker.claim_plan(service_ctx, "w1") == plan_id
    calls = {"n": 0}

    def broken(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        raise ValueError("not an outage")

    monkeypatch.setattr(store, "finish_plan", broken)
    worker.run_plan(service_ctx, plan_id, "w1")
    assert calls["n"] == 1  # raised at once (the thread's error), not retried
    assert service.get_plan(service_ctx, plan_id)["status"] == "solving"  # left to go stale, as before
