"""The procurement service: app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.procurement import handlers, store
from shared.reference_api import reference_blueprint
from shared.runtime import ServiceContext, ServiceSpec
from shared.web.app import create_service_app


def create_app(ctx: ServiceContext) -> Flask:
    """The procurement service's Flask app."""
    from services.procurement import api
    from services.procurement.ui import ui_blueprint

    return create_service_app(
        ctx,
        title="Procurement 采购与库存",
        description="请领单, central stock by lot (FEFO), 两票制 receipts, VBP contracts, prices, 调剂 and settlements.",
        blueprints=[*api.BLUEPRINTS, reference_blueprint("procurement")],
        ui=ui_blueprint(),
    )


SPEC = ServiceSpec(
    name="procurement",
    port=8002,
    label="采购与库存 Procurement and stock",
    metadata=store.metadata,
    create_app=create_app,
    handlers=handlers.HANDLERS,
    migrations=Path(__file__).parent / "migrations",
)
