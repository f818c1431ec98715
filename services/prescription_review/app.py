"""The prescription_review service (审方中心): app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.prescription_review import api, api_config, cds, handlers, store
from services.prescription_review.ui import ui_blueprint
from services.prescription_review.worker import his_inbox_worker, waiting_limit_worker
from shared.reference_api import reference_blueprint
from shared.runtime import ServiceContext, ServiceSpec
from shared.web.app import create_service_app


def create_app(ctx: ServiceContext) -> Flask:
    """The prescription_review service's Flask app."""
    return create_service_app(
        ctx,
        title="Prescription review 审方中心",
        description="Pre-dispensing screening (前置审方), the pharmacists' queue, knowledge base, CDS Hooks.",
        blueprints=[api.blp, api_config.blp, cds.blp, cds.root_blp, reference_blueprint("prescription_review")],
        ui=ui_blueprint(),
    )


SPEC = ServiceSpec(
    name="prescription_review",
    port=8003,
    label="审方中心 Prescription review",
    metadata=store.metadata,
    create_app=create_app,
    handlers=handlers.HANDLERS,
    migrations=Path(__file__).parent / "migrations",
    workers=(his_inbox_worker, waiting_limit_worker),
)
