"""The procurement HTTP API, purchasing side: distributors, manufacturers, VBP, prices, receipts, purchase orders."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app
from flask.views import MethodView

from services.procurement import queries
from services.procurement import schemas_out as out
from services.procurement import schemas_purchasing as sp
from services.procurement.model import commands as c
from services.procurement.service import policy, today
from services.procurement.service import purchasing as pu
from services.procurement.service import receiving as rc
from services.procurement.store import purchasing as pur_store
from services.procurement.store import receiving as rcv_store
from shared.db import read_only
from shared.errors import NotFound
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent
from shared.web.problems import problem
from shared.web.responses import problems

blp = Blueprint("purchasing", __name__, url_prefix="/api/v1", description="采购：配送企业、集采、议价、两票制验收 — purchasing")


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


def _county() -> None:
    principal = current_principal()
    principal.require("pharmacy_manager")
    principal.require_county()


@blp.route("/distributors")
class Distributors(MethodView):
    """Authorised distributors (统一配送企业)."""

    @blp.response(200, out.DistributorListOut)
    def get(self) -> Any:
        """Every distributor with the items it may deliver (null = all)."""
        _county()
        with read_only(_ctx().factory) as session:
            return {"distributors": pur_store.distributors(session)}

    @blp.arguments(sp.DistributorIn)
    @blp.response(201, out.DistributorOut)
    @problems(blp, 404, 409)
    def post(self, cmd: c.RegisterDistributor) -> Any:
        """Register (or replace) a distributor: {"name", "tax_id", "items": [codes] or "all"}."""
        return pu.register_distributor(_ctx(), current_principal(), cmd), 201


@blp.route("/manufacturers")
class Manufacturers(MethodView):
    """Manufacturers and their wholly-owned sales subsidiaries / import general agents."""

    @blp.response(200, out.ManufacturerListOut)
    def get(self) -> Any:
        """Registered manufacturers with their agents."""
        _county()
        with read_only(_ctx().factory) as session:
            return {"manufacturers": pur_store.manufacturer_rows(session)}

    @blp.arguments(sp.ManufacturerIn)
    @blp.response(201, out.ManufacturerOut)
    @problems(blp, 409)
    def post(self, cmd: c.RegisterManufacturer) -> Any:
        """Register (or replace) a manufacturer: {"name", "tax_id", "agents": [{"name", "tax_id", "kind"}]}."""
        return pu.register_manufacturer(_ctx(), current_principal(), cmd), 201


@blp.route("/vbp/contracts")
class VbpContracts(MethodView):
    """带量采购 contracts and their progress."""

    @blp.response(200, out.ProgressListOut)
    def get(self) -> Any:
        """Every contract's progress: completion, time progress, status, non-VBP share, unpaid, retained savings."""
        _county()
        ctx = _ctx()
        with read_only(ctx.factory) as session:
            return {"contracts": queries.vbp_progress(session, today(ctx), policy(ctx))}

    @idempotent
    @blp.arguments(sp.VbpContractIn)
    @blp.response(201, out.ContractOut)
    @problems(blp, 404, 409)
    def post(self, cmd: c.CreateVbpContract) -> Any:
        """A contract year: {"item_code", "price", "agreed_quantity", "start", "end"} (prices are decimal strings)."""
        return pu.create_vbp_contract(_ctx(), current_principal(), cmd), 201


@blp.route("/prices/listed", methods=["POST"])
@idempotent
@blp.arguments(sp.ListedPriceIn)
@blp.response(201, out.PriceRecordOut)
@problems(blp, 404, 409)
def listed_price(cmd: c.RecordPrice) -> Any:
    """Record a provincial listed price (挂网价); national_negotiated marks 国谈药."""
    return pu.record_price(_ctx(), current_principal(), cmd), 201


@blp.route("/prices/negotiated", methods=["POST"])
@idempotent
@blp.arguments(sp.NegotiatedPriceIn)
@blp.response(201, out.PriceRecordOut)
@problems(blp, 404, 409)
def negotiated_price(cmd: c.RecordPrice) -> Any:
    """Record a negotiated price (二次议价): below the listed price; refused for VBP and 国谈 drugs."""
    return pu.record_price(_ctx(), current_principal(), cmd), 201


@blp.route("/prices/<item_code>")
@blp.response(200, out.PricesOut)
@problems(blp, 404)
def prices(item_code: str) -> Any:
    """An item's price history and the price a purchase would be made at today."""
    _county()
    ctx = _ctx()
    with read_only(ctx.factory) as session:
        applied = pu.price_for(session, item_code, today(ctx))
        listed = [{**r, "kind": "listed"} for r in pur_store.price_rows(session, "listed_prices", item_code)]
        negotiated = [{**r, "kind": "negotiated"} for r in pur_store.price_rows(session, "negotiated_prices", item_code)]
    applicable = {"price": str(applied.price), "basis": applied.basis} if applied else None
    return {"item_code": item_code, "applicable": applicable, "listed": listed, "negotiated": negotiated}


def _violations(found: list[Any]) -> list[dict[str, Any]]:
    return [v.as_dict() for v in found]


@blp.route("/receipts/check", methods=["POST"])
@blp.arguments(sp.ReceiptIn)
@blp.response(200, out.CheckOut)
def check_receipt(data: dict[str, Any]) -> Any:
    """Check a delivery's two invoices and goods without writing anything: {"ok", "violations"}."""
    ctx = _ctx()
    result = rc.check_only(ctx, current_principal(), sp.ReceiptIn.receipt(data, today(ctx)))
    return {"ok": result.ok, "violations": _violations(result.violations)}


@blp.route("/receipts")
class Receipts(MethodView):
    """Goods receipts."""

    @blp.arguments(sp.PageQuery, location="query")
    @blp.response(200, out.ReceiptListOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Booked receipts, newest first (a storekeeper sees their site's)."""
        principal = current_principal()
        scope = principal.site_scope()
        if args["site"]:
            principal.require_site(args["site"])
        with read_only(_ctx().factory) as session:
            site = args["site"] if args["site"] else scope
            return {"receipts": rcv_store.receipts(session, site, args["limit"], args["offset"])}

    @idempotent
    @blp.arguments(sp.ReceiptIn)
    @blp.response(201, out.CheckOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Check and book a delivery in one transaction; 422 with the violations (nothing written) when it breaks a rule."""
        ctx = _ctx()
        receipt = sp.ReceiptIn.receipt(data, today(ctx))
        try:
            result = rc.book_receipt(ctx, current_principal(), c.BookReceipt(receipt))
        except rc.ReceiptRefused as exc:
            response = problem(422, exc.title, exc.detail, errors=[{"field": k, "message": v} for k, v in exc.fields.items()])
            body = json.loads(response.get_data(as_text=True))
            body.update({"ok": False, "violations": _violations(exc.violations)})
            return Response(json.dumps(body, ensure_ascii=False), status=422, mimetype="application/problem+json")
        return {"ok": True, "violations": [], "receipt_id": result.receipt_id}, 201, {"Location": f"/api/v1/receipts/{result.receipt_id}"}


@blp.route("/receipts/<receipt_id>")
@blp.response(200, out.ReceiptOut)
@problems(blp, 404)
def get_receipt(receipt_id: str) -> Any:
    """One receipt with its lines and invoices."""
    with read_only(_ctx().factory) as session:
        found = rcv_store.receipt(session, receipt_id)
    if found is None:
        raise NotFound(f"no receipt {receipt_id}")
    current_principal().require_site(found["site_code"])
    return found


@blp.route("/receipts/<receipt_id>/payment", methods=["POST"])
@blp.arguments(sp.PaymentIn)
@blp.response(200, out.ReceiptOut)
@problems(blp, 404, 409)
def pay(data: dict[str, Any], receipt_id: str) -> Any:
    """Record the day the receipt's invoice was paid."""
    return rc.record_payment(_ctx(), current_principal(), c.RecordPayment(receipt_id, data["paid_on"]))


@blp.route("/purchase-orders")
class PurchaseOrders(MethodView):
    """Orders to distributors at the applicable prices."""

    @blp.arguments(sp.PageQuery, location="query")
    @blp.response(200, out.PurchaseOrderListOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Purchase orders, newest first."""
        _county()
        with read_only(_ctx().factory) as session:
            return {"purchase_orders": rcv_store.purchase_orders(session, args["limit"], args["offset"])}

    @idempotent
    @blp.arguments(sp.PurchaseOrderIn)
    @blp.response(201, out.PurchaseOrderOut)
    @problems(blp, 404, 409)
    def post(self, cmd: c.CreatePurchaseOrder) -> Any:
        """Order at 中选价 / 二次议价 / 挂网价; non-selected products of an incomplete VBP generic need a justification and approval."""
        return pu.create_purchase_order(_ctx(), current_principal(), cmd), 201


@blp.route("/purchase-orders/<po_id>/approve", methods=["POST"])
@blp.response(200, out.PurchaseOrderOut)
@problems(blp, 404, 409)
def approve_po(po_id: str) -> Any:
    """Approve a justified order (four eyes: not its author)."""
    return pu.approve_purchase_order(_ctx(), current_principal(), c.ApprovePurchaseOrder(po_id))
