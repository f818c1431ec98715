"""The dispatch service: app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.dispatch import api, handlers, store
from services.dispatch.fleet import seed_fleet_if_empty
from services.dispatch.ui import ui_blueprint
from services.dispatch.worker import plan_worker
from shared.db import unit_of_work
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
    )


def seed_default_fleet(ctx: ServiceContext) -> dict[str, int]:
    """The embedded hub's sample fleet, added to an empty vehicles table."""
    with unit_of_work(ctx.factory) as session:
        return {"vehicles": seed_fleet_if_empty(session)}


SPEC = ServiceSpec(
    name="dispatch",
    port=8004,
    label="物流调度 dispatch",
    metadata=store.metadata,
    create_app=create_app,
    handlers=handlers.HANDLERS,
    migrations=Path(__file__).parent / "migrations",
    workers=(plan_worker,),
    seed=lambda ctx, profile: seed_default_fleet(ctx),
)
