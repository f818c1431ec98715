"""The prescription_review service: app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.prescription_review import store
from shared.reference import reference_handlers
from shared.reference_api import reference_blueprint
from shared.runtime import ServiceContext, ServiceSpec
from shared.web.app import create_service_app


def create_app(ctx: ServiceContext) -> Flask:
    """The prescription_review service's Flask app."""
    return create_service_app(ctx, title="Prescription review 审方中心", blueprints=[reference_blueprint("prescription_review")])


SPEC = ServiceSpec(
    name="prescription_review",
    port=8003,
    label="审方中心 prescription review",
    metadata=store.metadata,
    create_app=create_app,
    handlers=reference_handlers(store.metadata),
    migrations=Path(__file__).parent / "migrations",
)
