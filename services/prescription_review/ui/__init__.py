"""The pharmacist's workstation (审方工作站): queue, one prescription with its findings, quality charts.

HTML shells: their scripts call the review API with the signed-in person's token. The pages get
the rule titles and reason codes (domain constants, not data) to label what the API returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, render_template

from services.prescription_review.model.commands import REASON_CODES
from services.prescription_review.model.findings import RULES
from shared.web.ui import service_ui_blueprint

HERE = Path(__file__).parent


def ui_blueprint() -> Blueprint:
    """Pages under /ui/."""
    bp = service_ui_blueprint("prescription_review_ui", HERE)

    @bp.context_processor
    def _labels() -> dict[str, Any]:
        return {"review_labels": {"rules": {c: r.title for c, r in RULES.items()}, "reasons": REASON_CODES}}

    @bp.get("/")
    def home() -> str:
        """The queue (start page)."""
        return render_template("review/queue.html")

    @bp.get("/queue")
    def queue() -> str:
        """The queue with live counts and waiting times."""
        return render_template("review/queue.html")

    @bp.get("/reviews/<review_id>")
    def review(review_id: str) -> str:
        """One prescription: lines with findings, decision buttons, audit history."""
        return render_template("review/review.html", review_id=review_id)

    @bp.get("/quality")
    def quality() -> str:
        """Quality figures as charts."""
        return render_template("review/quality.html")

    return bp
