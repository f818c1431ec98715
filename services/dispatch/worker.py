"""The plan worker: claims queued day plans and solves them, writing progress as the search improves.

Each worker claims with ``store.claim_next_plan`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
several workers never solve the same plan; a plan whose worker stopped beating for
``STALE_AFTER_S`` is claimed again. A worker asked to stop hands its plan back to the queue at
once (status ``queued``) instead of leaving it to go stale; the search it abandons can no longer
write (every write is guarded by the claim id).

A long solve shows a first plan early: a short first search (``FIRST_SHARE`` of the time limit,
between ``FIRST_MIN_S`` and ``FIRST_MAX_S``) is stored, when it serves any stop, as the plan's draft while solving, and the rest of the budget
warm-starts from it. The objective shown is the best so far, so it never rises.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from services.dispatch import store
from services.dispatch.dayplan import merge_kept
from services.dispatch.planning import PlanCheckFailed, solve_request
from shared.clock import utcnow
from shared.db import is_database_unavailable, unit_of_work
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)

STALE_AFTER_S = 120  # a solving plan whose worker stopped beating for this long is queued again
BEAT_EVERY_S = 10.0  # heartbeat while a search runs without improving
WRITE_EVERY_S = 0.5  # at most two progress writes a second (one per improvement would flood the database)
FIRST_SHARE = 0.12  # share of the time limit the first (draft) search gets, within the bounds below
FIRST_MIN_S = 5.0  # a 680-stop county day has its first plan after 3-6 s on two busy cores
FIRST_MAX_S = 8.0
TWO_PHASE_FROM_S = 12.0  # shorter solves (re-plans) run as one search
FINISH_RETRY_S = 1.0  # a finished solve whose database is away tries to record its outcome again this often


def claim_plan(ctx: ServiceContext, worker: str) -> str | None:
    """Take the oldest queued plan (or one whose worker died) for this worker; None if there is none."""
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        return store.claim_next_plan(session, worker, now, now - timedelta(seconds=STALE_AFTER_S))


def release_plan(ctx: ServiceContext, plan_id: str, worker: str) -> bool:
    """Hand a plan back to the queue (this worker is stopping); False if it was no longer ours."""
    with unit_of_work(ctx.factory) as session:
        return store.release_plan(session, plan_id, worker)


class _Run:
    """One claimed plan's solve: phases, progress samples (best so far) and the outcome."""

    def __init__(self, ctx: ServiceContext, plan_id: str, worker: str) -> None:
        self.ctx, self.plan_id, self.worker = ctx, plan_id, worker
        self.samples: list[list[float]] = []
        self.last_write = 0.0
        self.offset_s = 0.0
        self.lock = threading.Lock()
        self.cancelled = threading.Event()
        self.limit_s: float | None = None  # the plan's time limit, known once solve() has read it

    def progress(self, elapsed: float, objective: int) -> None:
        if self.cancelled.is_set():
            return  # handed back: the abandoned search runs out its time and writes nothing
        with self.lock:
            if self.samples and objective >= self.samples[-1][1]:
                return  # a later phase's start is no improvement: the shown objective never rises
            self.samples.append([round(self.offset_s + elapsed, 2), objective])
            now = time.monotonic()
            first = len(self.samples) == 1
            if not first and now - self.last_write < WRITE_EVERY_S:
                return
            self.last_write = now
        self.write(progress=list(self.samples))

    def write(self, **values: Any) -> bool:
        if self.cancelled.is_set():
            return False
        with unit_of_work(self.ctx.factory) as session:
            return store.beat_plan(session, self.plan_id, self.worker, utcnow(), **values)

    def solve(self) -> None:
        with self.ctx.factory() as session:
            plan = store.plan(session, self.plan_id)
        assert plan is not None
        request = dict(plan["request"])
        kept = request.pop("kept_routes", [])
        request.pop("left_out", None)
        limit = float(request["options"]["time_limit_s"])
        self.limit_s = limit
        started = time.monotonic()
        draft: dict[str, Any] | None = None
        try:
            if limit >= TWO_PHASE_FROM_S and not request.get("initial_routes"):
                first = min(FIRST_MAX_S, max(FIRST_MIN_S, FIRST_SHARE * limit))
                draft = self._phase(request, first, kept)
                if self.cancelled.is_set():
                    return
                if draft is not None and not (draft.get("totals") or {}).get("stops_served"):
                    draft = None  # nothing served yet: no draft to show, the full search starts afresh
                if draft is not None:
                    self.write(result=draft, progress=list(self.samples))
                    request["initial_routes"] = {r["vehicle"]: [s["id"] for s in r["stops"]] for r in draft["routes"]
                                                 if r["vehicle"] not in {k["vehicle"] for k in kept}}  # fmt: skip
            self.offset_s = time.monotonic() - started
            rest = max(1.0, limit - self.offset_s)
            result = self._phase(request, rest, kept, raise_errors=draft is None) or draft
            status, error = ("solved", None) if result is not None else ("failed", "no plan")
        except PlanCheckFailed as exc:
            log.error("plan failed the feasibility check", extra={"plan_id": self.plan_id, "violations": exc.violations[:20]})
            result, status, error = None, "failed", f"the plan failed the feasibility check: {exc}"
        except Exception as exc:  # noqa: BLE001 - a failed solve is recorded, the worker goes on
            log.exception("plan solve failed", extra={"plan_id": self.plan_id})
            result, status, error = None, "failed", f"{type(exc).__name__}: {exc}"
        if self.cancelled.is_set():
            return
        if result is not None and draft is not None and result["objective"] > draft["objective"]:
            result = draft  # the warm-started search never returns worse than its start; keep the better anyway
        self._finish(status=status, result=result, error=error,
                     progress=self.samples or (result or {}).get("stats", {}).get("progress", []))

    def _finish(self, **values: Any) -> None:
        """Record the outcome. While the database is down or restarting, try again every FINISH_RETRY_S
        (up to STALE_AFTER_S): the finished plan would otherwise stay "solving" until it went stale and
        was solved again (bench.soak: a PostgreSQL restart mid-solve held the dispatcher's plan > 60 s)."""
        deadline = time.monotonic() + STALE_AFTER_S
        while True:
            try:
                with unit_of_work(self.ctx.factory) as session:
                    store.finish_plan(session, self.plan_id, self.worker, utcnow(), **values)
                return
            except Exception as exc:
                if not is_database_unavailable(exc) or self.cancelled.is_set() or time.monotonic() > deadline:
                    raise
                log.warning("the plan's outcome waits for the database", extra={"plan_id": self.plan_id})
                time.sleep(FINISH_RETRY_S)

    def _phase(
        self, request: dict[str, Any], seconds: float, kept: list[dict[str, Any]], raise_errors: bool = False
    ) -> dict[str, Any] | None:
        phase = {**request, "options": {**request["options"], "time_limit_s": seconds}}
        try:
            try:
                result = solve_request(phase, self.progress)
            except PlanCheckFailed as exc:
                # The independent checker refused the search's plan (a solver fault, never shown).
                # The search is timing-dependent: one more try usually gives a plan that passes.
                log.error("the checker refused a plan; solving once more",
                          extra={"plan_id": self.plan_id, "violations": exc.violations[:10]})  # fmt: skip
                result = solve_request(phase, self.progress)
        except Exception:
            if self.cancelled.is_set():
                return None
            if raise_errors:
                raise
            log.exception("a solve phase failed; keeping the plan so far", extra={"plan_id": self.plan_id})
            return None
        return merge_kept(result, kept, request["vehicles"])


OVERRUN_GRACE_S = 120.0  # beyond the plan's own limit: model building, checking, writing the result


def overran(limit_s: float | None, elapsed_s: float) -> bool:
    """True once a solve has run OVERRUN_GRACE_S (seconds) past its plan's time limit."""
    return limit_s is not None and elapsed_s > limit_s + OVERRUN_GRACE_S


def run_plan(ctx: ServiceContext, plan_id: str, worker: str, stop: threading.Event | None = None) -> str:
    """Solve one claimed plan; returns "done", or "released" when ``stop`` was set first (the plan
    went back to the queue at once and the abandoned search can no longer write)."""
    run = _Run(ctx, plan_id, worker)
    thread = threading.Thread(target=run.solve, name=f"plan-{plan_id[:8]}", daemon=True)
    thread.start()
    started = last_beat = time.monotonic()
    while thread.is_alive():
        if overran(run.limit_s, time.monotonic() - started):
            # A search stuck past its own limit (a native call that never returns): stop beating,
            # so the liveness probe restarts this process and another worker re-claims the plan
            # once its heartbeat is STALE_AFTER_S old. Nothing here touches `stop` or the plan.
            log.error("solve overran its time limit; heartbeats stopped", extra={"plan_id": plan_id})
            thread.join()
            return "done"
        if stop is not None and stop.wait(0.2):
            run.cancelled.set()
            release_plan(ctx, plan_id, worker)
            return "released"
        thread.join(0.2 if stop is not None else 1.0)
        if time.monotonic() - last_beat >= BEAT_EVERY_S and thread.is_alive():
            last_beat = time.monotonic()
            try:
                run.write()
            except Exception:  # noqa: BLE001 - a missed heartbeat is not fatal
                log.exception("plan heartbeat failed", extra={"plan_id": plan_id})
    return "done"


def plan_worker(ctx: ServiceContext, stop: threading.Event) -> None:
    """The solver worker: claims queued plans one at a time until stopped."""
    worker = f"w-{uuid.uuid4().hex[:12]}"
    while not stop.is_set():
        try:
            plan_id = claim_plan(ctx, worker)
        except Exception:  # noqa: BLE001 - the database may be restarting
            log.exception("claiming a plan failed")
            plan_id = None
        if plan_id is None:
            stop.wait(0.5)
            continue
        if run_plan(ctx, plan_id, worker, stop) == "released":
            return
