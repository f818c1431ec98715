"""The procurement pages (zh-CN first): storekeeper stock and requisitions, central approvals, receipts, VBP, transfers.

HTML shells on the shared shell (shared/web/ui); their scripts call the procurement API with the
signed-in person's token.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template

from shared.web.ui import service_ui_blueprint

HERE = Path(__file__).parent


def ui_blueprint() -> Blueprint:
    """Pages under /ui/."""
    bp = service_ui_blueprint("procurement_ui", HERE)

    @bp.get("/")
    def home() -> str:
        """The procurement workbench: tabs by role."""
        return render_template("procurement/index.html")

    return bp
