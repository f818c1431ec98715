"""The formulary's pages: search, item with history, propose a change, approve changes."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template

HERE = Path(__file__).parent


def ui_blueprint() -> Blueprint:
    """Pages under /ui/ (templates and static files of this folder)."""
    bp = Blueprint(
        "formulary_ui",
        __name__,
        url_prefix="/ui",
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static",
    )

    @bp.get("/")
    def index() -> str:
        return render_template("formulary_index.html")

    return bp
