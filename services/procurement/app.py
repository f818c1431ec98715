"""The procurement service: app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.procurement import store
from shared.reference import reference_handlers
from shared.reference_api import reference_blueprint
from shared.runtime import ServiceContext, ServiceSpec
from shared.web.app import create_service_app


def create_app(ctx: ServiceContext) -> Flask:
    """The procurement service's Flask app."""
    return create_service_app(ctx, title="Procurement 采购与库存", blueprints=[reference_blueprint("procurement")])


SPEC = ServiceSpec(
    name="procurement",
    metadata=store.metadata,
    create_app=create_app,
    handlers=reference_handlers(store.metadata),
    migrations=Path(__file__).parent / "migrations",
)
