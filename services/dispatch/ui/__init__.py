"""The dispatcher's pages: the day board with map, progress, locks and re-plan; driver manifests."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template

HERE = Path(__file__).parent


def ui_blueprint() -> Blueprint:
    """Pages under /ui/."""
    bp = Blueprint(
        "dispatch_ui",
        __name__,
        url_prefix="/ui",
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static",
    )

    @bp.get("/")
    def board() -> str:
        return render_template("dispatch/board.html")

    return bp
