"""The formulary's pages: catalogue search, item with history, new item, approvals, bulk import.

The pages are HTML shells; their scripts call the formulary API with the signed-in person's
token, so a page needs no server-side session and works the same behind any API gateway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, render_template

from services.formulary.ui.fields import grouped, spec_json
from shared.web.ui import service_ui_blueprint

HERE = Path(__file__).parent


def ui_blueprint() -> Blueprint:
    """Pages under /ui/ (templates and static files of this folder)."""
    bp = service_ui_blueprint("formulary_ui", HERE)

    @bp.context_processor
    def _field_spec() -> dict[str, Any]:
        return {"spec": spec_json()}

    @bp.get("/")
    def catalogue() -> str:
        """Search the catalogue (code, name, pinyin initials) with filters."""
        return render_template("formulary/catalogue.html")

    @bp.get("/items/new")
    def new_item() -> str:
        """Propose a new item."""
        return render_template("formulary/item_new.html", groups=grouped())

    @bp.get("/items/<code>")
    def item(code: str) -> str:
        """One item: fields, history with diffs, propose a change, retire."""
        return render_template("formulary/item.html", code=code, groups=grouped(skip=("code",)))

    @bp.get("/changes")
    def changes() -> str:
        """The committee's (药事会) queue of proposed changes."""
        return render_template("formulary/changes.html")

    @bp.get("/import")
    def import_items() -> str:
        """Bulk import from CSV or Excel with a per-row report."""
        return render_template("formulary/import.html")

    return bp
