"""The dispatch service: app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.dispatch import api, store
from services.dispatch.service import plan_worker, shipment_ready_handler
from services.dispatch.ui import ui_blueprint
from shared.reference import reference_handlers
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


SPEC = ServiceSpec(
    name="dispatch",
    metadata=store.metadata,
    create_app=create_app,
    handlers={**reference_handlers(store.metadata), "procurement.shipment.ready": shipment_ready_handler()},
    migrations=Path(__file__).parent / "migrations",
    workers=(plan_worker,),
)
