"""The dispatch service: app factory and its ServiceSpec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from services.dispatch import api, handlers, store
from services.dispatch.fleet import fleet_size, seed_fleet_if_empty
from services.dispatch.ui import ui_blueprint
from services.dispatch.worker import plan_worker
from shared.clock import utcnow
from shared.db import read_only, unit_of_work
from shared.reference_api import reference_blueprint
from shared.runtime import ServiceContext, ServiceSpec
from shared.web.app import create_service_app


def create_app(ctx: ServiceContext) -> Flask:
    """The dispatch service's Flask app."""
    return create_service_app(
        ctx,
        title="Dispatch 物流调度",
        description="Consolidated routes for drugs, cold chain, linen, instruments and specimens (OR-Tools).",
        blueprints=[api.blp, reference_blueprint("dispatch")],
        ui=ui_blueprint(),
        gauges=plan_gauges(ctx),
    )


def plan_gauges(ctx: ServiceContext) -> dict[str, tuple[str, str, Callable[[], dict[str, float]]]]:
    """/metrics gauges read from the plans table at scrape time (alerts: deploy/k8s/base/prometheusrule.yaml)."""

    def counts() -> dict[str, float]:
        with read_only(ctx.factory) as session:
            return {status: float(n) for status, n in store.plan_counts(session).items()}

    def heartbeat_age() -> dict[str, float]:
        with read_only(ctx.factory) as session:
            stalest = store.stalest_solving_heartbeat(session)
        return {"solving": max(0.0, (utcnow() - stalest).total_seconds()) if stalest else 0.0}

    return {
        "countyhub_dispatch_plans": ("day plans by status (solver failures: status=failed)", "status", counts),
        "countyhub_dispatch_plan_heartbeat_age_seconds": (
            "seconds since the stalest heartbeat of a plan being solved (0 when none is)", "status", heartbeat_age),
    }


def seed_default_fleet(ctx: ServiceContext, profile: str = "chengwu") -> dict[str, int]:
    """The embedded hub's sample fleet, added to an empty vehicles table and sized to the sample
    county (a Rizhao-size county gets enough vans for its ~690 stops a day, Chengwu the default seven)."""
    from services.formulary.seed.county import generate_county

    sites = generate_county(profile).sites
    daily = sum(1 for s in sites if s.level != "village" and not s.is_hub)
    daily += round(0.4 * sum(1 for s in sites if s.level == "village"))  # weekly rounds + twice-weekly specimens
    with unit_of_work(ctx.factory) as session:
        return {"vehicles": seed_fleet_if_empty(session, fleet_size(daily))}


SPEC = ServiceSpec(
    name="dispatch",
    port=8004,
    label="物流调度 Dispatch",
    metadata=store.metadata,
    create_app=create_app,
    handlers=handlers.HANDLERS,
    migrations=Path(__file__).parent / "migrations",
    workers=(plan_worker,),
    seed=seed_default_fleet,
)
