"""The formulary service: app factory and its ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.formulary import api, store
from services.formulary.export import export_blueprint
from services.formulary.seed.loader import seed_if_empty
from services.formulary.ui import ui_blueprint
from shared.bus.outbox import pending_count
from shared.runtime import ServiceContext, ServiceSpec
from shared.web.app import create_service_app


def create_app(ctx: ServiceContext) -> Flask:
    """The formulary's Flask app."""

    def outbox() -> dict[str, float]:
        with ctx.factory() as session:
            return {"formulary": float(pending_count(session, store.metadata))}

    app = create_service_app(
        ctx,
        title="Formulary 统一药品耗材目录",
        description="The county's master data: items, sites, stocking lists, approved as catalogue versions.",
        blueprints=[api.blp, export_blueprint],
        ui=ui_blueprint(),
        gauges={"countyhub_outbox_pending": ("events waiting in the outbox", "service", outbox)},
    )
    return app


SPEC = ServiceSpec(
    name="formulary",
    port=8001,
    label="统一药品耗材目录 County formulary",
    metadata=store.metadata,
    create_app=create_app,
    handlers={},
    migrations=Path(__file__).parent / "migrations",
    seed=lambda ctx, profile: seed_if_empty(ctx, profile=profile),
)
