"""The dispatcher's pages: the day board with map, progress, locks and re-plan; driver manifests.

Like the formulary's pages these are HTML shells: their scripts call the dispatch API with the
signed-in person's token. The board also gets the recurring rounds' volumes (the domain model's
constants, not data), so it can show which rounds fall due on the day before a plan exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, render_template

from services.dispatch.model import (
    COMPARTMENTS,
    DEFAULT_ROUNDS,
    DELIVERY_COMPARTMENTS,
    PICKUP_COMPARTMENTS,
    ROUND_VOLUMES,
)
from services.dispatch.presentation import TERMS
from shared.web.ui import service_ui_blueprint

HERE = Path(__file__).parent


def _model() -> dict[str, Any]:
    """What the pages share with the domain model: compartments, the rounds' volumes, the terms (zh, en)."""
    return {
        "compartments": list(COMPARTMENTS),
        "deliver": list(DELIVERY_COMPARTMENTS),
        "pickup": list(PICKUP_COMPARTMENTS),
        "round_volumes": {
            level: {name: dict(v) for name, v in rounds.items()} for level, rounds in ROUND_VOLUMES.items()
        },
        "default_rounds": {level: dict(rounds) for level, rounds in DEFAULT_ROUNDS.items()},
        "terms": {kind: {key: list(pair) for key, pair in terms.items()} for kind, terms in TERMS.items()},
    }


def ui_blueprint() -> Blueprint:
    """Pages under /ui/."""
    bp = service_ui_blueprint("dispatch_ui", HERE)

    @bp.context_processor
    def _dispatch_model() -> dict[str, Any]:
        return {"dispatch_model": _model()}

    @bp.get("/")
    def board() -> str:
        """The day board: pending shipments and rounds, urgent orders, plan/re-plan with map, publish."""
        return render_template("dispatch/board.html")

    @bp.get("/plans/<plan_id>/manifest/<vehicle_id>")
    def manifest(plan_id: str, vehicle_id: str) -> str:
        """One vehicle's printable driver manifest (司机配送单)."""
        return render_template("dispatch/manifest.html", plan_id=plan_id, vehicle_id=vehicle_id)

    return bp
