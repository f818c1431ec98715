"""The procurement pages (zh-CN first): storekeeper stock and requisitions, central approvals, receipts, VBP, transfers.

HTML shells on the shared shell (shared/web/ui); their scripts call the procurement API with the
signed-in person's token. The VBP chart is inline SVG drawn by the page script (no chart library).
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
    def stock() -> str:
        """A site's stock with suggested orders (the storekeeper's start page)."""
        return render_template("procurement/stock.html")

    @bp.get("/requisitions/new")
    def new_requisition() -> str:
        """The requisition form with pinyin search."""
        return render_template("procurement/new_requisition.html")

    @bp.get("/requisitions")
    def requisitions() -> str:
        """Requisitions (to approve, to pick, on the way)."""
        return render_template("procurement/requisitions.html")

    @bp.get("/requisitions/<req_id>")
    def requisition(req_id: str) -> str:
        """One requisition with the actions its status allows (approve, pick, receive …)."""
        return render_template("procurement/requisition.html", req_id=req_id)

    @bp.get("/receipts")
    def receipts() -> str:
        """Goods receipt with the two-invoice check."""
        return render_template("procurement/receipts.html")

    @bp.get("/vbp")
    def vbp() -> str:
        """VBP contract progress chart."""
        return render_template("procurement/vbp.html")

    @bp.get("/transfers")
    def transfers() -> str:
        """Transfers between sites and the monthly settlement."""
        return render_template("procurement/transfers.html")

    return bp
