"""The procurement HTTP API, requisitions and stock side: thin views that parse, call one use case or query, serialise.

Site stock and central lots page as the formulary's lists do: `limit` and `cursor` in the query, the next
page's cursor in a `Link: <…>; rel="next"` header (RFC 8288) and in the body's `next_cursor`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from flask.views import MethodView

from services.procurement import queries, schemas
from services.procurement import schemas_out as out
from services.procurement.model import commands as c
from services.procurement.service import now, policy, today
from services.procurement.service import requisitions as rq
from services.procurement.service import stock as st
from services.procurement.store import requisitions as rq_store
from services.procurement.store import stock as stock_store
from shared.db import read_only
from shared.errors import InvalidInput, PreconditionFailed
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent, key_problem
from shared.web.responses import problems

blp = Blueprint("procurement", __name__, url_prefix="/api/v1", description="请领单、库存、调剂与质量 — requisitions, stock, transfers, quality")


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


def _etag(req: dict[str, Any]) -> str:
    return f'"{req["id"]}-v{req["version"]}"'


def _with_etag(req: dict[str, Any], status: int = 200) -> tuple[dict[str, Any], int, dict[str, str]]:
    return req, status, {"ETag": _etag(req)}


def _check_if_match(req_id: str) -> None:
    """Optional If-Match on transitions: a stale ETag is 412 (someone else moved the requisition first)."""
    wanted = request.headers.get("If-Match")
    if not wanted:
        return
    current = rq.get_requisition(_ctx(), current_principal(), req_id)
    if wanted.strip() not in (_etag(current), "*"):
        raise PreconditionFailed(f"the requisition changed: it is now {_etag(current)}", {"If-Match": "stale ETag"})


def _paged(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The body with a Link rel="next" header when `next_cursor` names a further page."""
    headers = {}
    if body.get("next_cursor"):
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        headers["Link"] = f'<{request.path}?{urlencode({**args, "cursor": body["next_cursor"]})}>; rel="next"'
    return body, 200, headers


@blp.route("/requisitions")
class Requisitions(MethodView):
    """List requisitions; create one (Idempotency-Key: exactly once)."""

    @blp.arguments(schemas.RequisitionQuery, location="query")
    @blp.response(200, out.RequisitionListOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Requisitions, urgent and newest first; a storekeeper sees only their own site's."""
        principal = current_principal()
        site = principal.site_scope()
        if site is None:
            site = args["site"]
        elif args["site"] and args["site"] != site:
            principal.require_site(args["site"])
        with read_only(_ctx().factory) as session:
            found = rq_store.list_requisitions(session, site, args["status"], args["limit"], args["offset"])
        return {"requisitions": found}

    @idempotent
    @blp.arguments(schemas.RequisitionIn)
    @blp.response(201, out.RequisitionOut)
    @problems(blp, 404, 409)
    def post(self, cmd: c.CreateRequisition) -> Any:
        """Create a requisition (draft, or submitted with "submit": true); retries with the same Idempotency-Key get the same one."""
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 200):
            raise InvalidInput("Idempotency-Key is 1–200 characters", {"Idempotency-Key": "1–200 characters"})
        bad = key_problem(key) if key else None  # @idempotent refuses these first; the same rule if it ever does not
        if bad is not None:
            raise InvalidInput(f"Idempotency-Key {bad}", {"Idempotency-Key": bad})
        req = rq.create_requisition(_ctx(), current_principal(), cmd, idempotency_key=key)
        return req, 201, {"ETag": _etag(req), "Location": f"/api/v1/requisitions/{req['id']}"}


@blp.route("/requisitions/<req_id>")
@blp.response(200, out.RequisitionOut)
@problems(blp, 404)
def get_requisition(req_id: str) -> Any:
    """One requisition with its lines and picked lots (ETag for If-Match on transitions)."""
    return _with_etag(rq.get_requisition(_ctx(), current_principal(), req_id))


@blp.route("/requisitions/<req_id>/submit", methods=["POST"])
@blp.response(200, out.RequisitionOut)
@problems(blp, 404, 409, 412)
def submit(req_id: str) -> Any:
    """draft → submitted."""
    _check_if_match(req_id)
    return _with_etag(rq.submit_requisition(_ctx(), current_principal(), c.SubmitRequisition(req_id)))


@blp.route("/requisitions/<req_id>/approve", methods=["POST"])
@blp.arguments(schemas.ApproveIn)
@blp.response(200, out.RequisitionOut)
@problems(blp, 404, 409, 412)
def approve(data: dict[str, Any], req_id: str) -> Any:
    """submitted → approved (cuts need a reason), allocating central lots FEFO; 409 when stock is short."""
    _check_if_match(req_id)
    cmd = schemas.ApproveIn.command(data, req_id)
    return _with_etag(rq.approve_requisition(_ctx(), current_principal(), cmd))


@blp.route("/requisitions/<req_id>/reject", methods=["POST"])
@blp.arguments(schemas.RejectIn)
@blp.response(200, out.RequisitionOut)
@problems(blp, 404, 409, 412)
def reject(data: dict[str, Any], req_id: str) -> Any:
    """submitted → rejected with a reason."""
    _check_if_match(req_id)
    return _with_etag(rq.reject_requisition(_ctx(), current_principal(), c.RejectRequisition(req_id, data["reason"])))


@blp.route("/requisitions/<req_id>/pick", methods=["POST"])
@blp.response(200, out.RequisitionOut)
@problems(blp, 404, 409, 412)
def pick(req_id: str) -> Any:
    """approved → picked: procurement.shipment.ready goes to dispatch (urgent ones as urgent shipments)."""
    _check_if_match(req_id)
    return _with_etag(rq.pick_requisition(_ctx(), current_principal(), c.PickRequisition(req_id)))


@blp.route("/requisitions/<req_id>/ship", methods=["POST"])
@blp.response(200, out.RequisitionOut)
@problems(blp, 404, 409, 412)
def ship(req_id: str) -> Any:
    """picked → shipped by hand (the site collects; routed shipments are marked by dispatch's plan)."""
    _check_if_match(req_id)
    return _with_etag(rq.ship_requisition(_ctx(), current_principal(), c.ShipRequisition(req_id)))


@blp.route("/requisitions/<req_id>/receive", methods=["POST"])
@blp.arguments(schemas.ReceiveIn)
@blp.response(200, out.RequisitionOut)
@problems(blp, 404, 409, 412)
def receive(data: dict[str, Any], req_id: str) -> Any:
    """shipped → received: the site's count per lot (short, damaged, wrong batch) booked into its stock."""
    _check_if_match(req_id)
    return _with_etag(rq.receive_requisition(_ctx(), current_principal(), schemas.ReceiveIn.command(data, req_id)))


@blp.route("/stock")
@blp.arguments(schemas.SiteQuery, location="query")
@blp.response(200, out.SiteStockOut)
@problems(blp, 404)
def site_stock(args: dict[str, Any]) -> Any:
    """A site's stock per item with lots, 30-day consumption and a suggested order (whole packages);
    paged by item code with limit and cursor (Link header, next_cursor)."""
    current_principal().require_site(args["site"])
    ctx = _ctx()
    with read_only(ctx.factory) as session:
        found = queries.site_stock(session, args["site"], now(ctx), policy(ctx),
                                   args["cursor"], args["limit"])  # fmt: skip
    return _paged(found)


@blp.route("/stock/history")
@blp.arguments(schemas.HistoryQuery, location="query")
@blp.response(200, out.HistoryOut)
@problems(blp, 404)
def stock_history(args: dict[str, Any]) -> Any:
    """A site's stock movements, newest first: receipts, prescriptions, dispensing, counts, transfers."""
    current_principal().require_site(args["site"])
    with read_only(_ctx().factory) as session:
        moves = stock_store.site_history(session, args["site"], args["item_code"], args["limit"])
    return {"site_code": args["site"], "movements": moves}


@blp.route("/sites/<site_code>/stock/adjustments", methods=["POST"])
@idempotent
@blp.arguments(schemas.AdjustmentIn)
@blp.response(200, out.AdjustmentOut)
@problems(blp, 404, 409)
def adjust(data: dict[str, Any], site_code: str) -> Any:
    """Manual dispensing or a stock count (盘点) at a site, with a reason; a retry with the same Idempotency-Key changes nothing."""
    cmd = c.AdjustSiteStock(site_code, data["item_code"], data["kind"], data["quantity"], data["reason"], data["batch_no"])
    return st.adjust_site_stock(_ctx(), current_principal(), cmd, request.headers.get("Idempotency-Key"))


@blp.route("/central/lots")
@blp.arguments(schemas.LotQuery, location="query")
@blp.response(200, out.CentralLotsOut)
def central_lots(args: dict[str, Any]) -> Any:
    """Central stock by lot, FEFO order, id breaking ties (pharmacy manager); paged with limit and cursor
    (Link header, next_cursor)."""
    current_principal().require_county()
    with read_only(_ctx().factory) as session:
        return _paged(queries.central_lots(session, args["item_code"], args["cursor"], args["limit"]))


@blp.route("/transfers")
class Transfers(MethodView):
    """调剂 between member sites."""

    @blp.arguments(schemas.TransferQuery, location="query")
    @blp.response(200, out.TransferListOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Transfers, newest first (a storekeeper sees those touching their site)."""
        return {"transfers": st.list_transfers(_ctx(), current_principal(), args["site"], args["month"])}

    @idempotent
    @blp.arguments(schemas.TransferIn)
    @blp.response(201, out.TransferOut)
    @problems(blp, 404, 409)
    def post(self, cmd: c.CreateTransfer) -> Any:
        """Move stock at cost from one site to another (FEFO from the giving site)."""
        return st.create_transfer(_ctx(), current_principal(), cmd, request.headers.get("Idempotency-Key")), 201


@blp.route("/settlements")
@blp.arguments(schemas.MonthQuery, location="query")
@blp.response(200, out.SettlementOut)
def settlements(args: dict[str, Any]) -> Any:
    """The month's 调剂 settlement per pair of sites; sums to zero across the community."""
    principal = current_principal()
    scope = principal.site_scope()
    site = scope if scope is not None else args["site"]
    if args["site"]:
        principal.require_site(args["site"])
    with read_only(_ctx().factory) as session:
        return queries.settlement(session, args["month"], site)


@blp.route("/recall")
@blp.arguments(schemas.RecallQuery, location="query")
@blp.response(200, out.RecallOut)
def recall(args: dict[str, Any]) -> Any:
    """Batch recall tracing: every site that received the batch (or 追溯码), when, how much, what is left."""
    current_principal().require_county()
    with read_only(_ctx().factory) as session:
        return queries.recall(session, args["item_code"] or "", args["batch_no"], args["trace_code"])


@blp.route("/alerts/near-expiry")
@blp.arguments(schemas.AlertQuery, location="query")
@blp.response(200, out.AlertsOut)
def near_expiry(args: dict[str, Any]) -> Any:
    """近效期 lots (configurable months) across central and site stock; a storekeeper sees their site's."""
    principal = current_principal()
    site = principal.site_scope()
    if args["site"]:
        principal.require_site(args["site"])
        site = args["site"]
    ctx = _ctx()
    months = args["months"] if args["months"] is not None else policy(ctx).near_expiry_months
    with read_only(ctx.factory) as session:
        return {"months": months, "alerts": queries.expiry_alerts(session, today(ctx), months, site)}


from services.procurement.api_purchasing import blp as purchasing_blp  # noqa: E402  (one list of blueprints)

BLUEPRINTS = [blp, purchasing_blp]
