"""请领单 use cases: create, submit, approve (FEFO allocation under row locks), reject, pick, ship, receive."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.procurement.model import commands as c
from services.procurement.model.ledger import Allocation, InsufficientStock, allocate_fefo
from services.procurement.model.requisition import (
    ItemFacts,
    Status,
    check_approval,
    check_order_lines,
    check_site_receipt,
    check_transition,
    split_by_batch,
)
from services.procurement.service import CENTRAL_ROLES, SITE_ROLES, now, today
from services.procurement.store import reference as ref
from services.procurement.store import requisitions as rq
from services.procurement.store import stock
from shared.auth import Principal
from shared.clock import isoformat
from shared.db import read_only, unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.runtime import ServiceContext

URGENT, NORMAL = 3, 1  # dispatch's Priority.URGENT / Priority.NORMAL


def create_requisition(
    ctx: ServiceContext, actor: Principal, cmd: c.CreateRequisition, idempotency_key: str | None = None
) -> dict[str, Any]:
    """A new requisition for the actor's site (draft, or submitted when cmd.submit).

    With an idempotency key the same caller gets the same requisition however often it retries,
    also when two retries race (a unique key on the row); InvalidInput naming `Idempotency-Key`
    when the key already made a different requisition. Raises Forbidden for another site,
    InvalidInput naming the field for unknown sites, off-list items or part packages.
    """
    actor.require(*SITE_ROLES)
    actor.require_site(cmd.site_code)
    if idempotency_key:
        existing = _by_key(ctx, actor, idempotency_key, cmd)
        if existing:
            return existing
    at = now(ctx)
    try:
        with unit_of_work(ctx.factory) as session:
            site = _site(session, cmd.site_code)
            if cmd.urgent and not (cmd.urgent_reason or "").strip():
                raise InvalidInput("an urgent requisition says why", {"urgent_reason": "required when urgent"})
            items = ref.item_facts(session, (line.item_code for line in cmd.lines))
            check_order_lines(cmd.lines, items, ref.stocklist(session, cmd.site_code, site["level"]))
            req_id = f"R{at.strftime('%y%m%d')}-{uuid.uuid4().hex[:8].upper()}"
            row = {
                "id": req_id, "site_code": cmd.site_code, "status": Status.SUBMITTED if cmd.submit else Status.DRAFT,
                "version": 1, "urgent": cmd.urgent, "urgent_reason": cmd.urgent_reason if cmd.urgent else None,
                "note": cmd.note, "created_by": actor.subject, "created_at": at, "updated_at": at,
                "idempotency_key": idempotency_key,
            }  # fmt: skip
            rq.insert_requisition(session, row, [(line.item_code, line.quantity) for line in cmd.lines])
            return _detail(session, req_id)
    except IntegrityError:
        if idempotency_key:
            existing = _by_key(ctx, actor, idempotency_key, cmd)
            if existing:
                return existing
        raise


def _by_key(ctx: ServiceContext, actor: Principal, key: str, cmd: c.CreateRequisition) -> dict[str, Any] | None:
    """The requisition this caller's key already made (None if none); InvalidInput if it was made from another request."""
    with read_only(ctx.factory) as session:
        found = rq.requisition_id_by_key(session, actor.subject, key)
        existing = _detail(session, found) if found else None
    if existing is None:
        return None
    asked = (cmd.site_code, [(x.item_code, x.quantity) for x in cmd.lines], cmd.urgent, cmd.note)
    made = (existing["site_code"], [(x["item_code"], x["quantity"]) for x in existing["lines"]], existing["urgent"], existing["note"])
    if asked != made:  # a twin with the same key but another body raced this one (the HTTP layer's 422, when it cannot see it yet)
        raise InvalidInput("this Idempotency-Key was used for a different request",
                           {"Idempotency-Key": "already used with another request body"})  # fmt: skip
    return existing


def _site(session: Session, code: str) -> dict[str, Any]:
    site = ref.site(session, code)
    if site is None or not site["active"]:
        raise InvalidInput(f"no active site {code}", {"site_code": "no such active site"})
    if site["is_hub"]:
        raise InvalidInput("the central pharmacy does not order from itself", {"site_code": "the hub cannot requisition"})
    return site


def _detail(session: Session, req_id: str) -> dict[str, Any]:
    found = rq.requisition(session, req_id)
    if found is None:
        raise NotFound(f"no requisition {req_id}")
    return found


def _locked(session: Session, actor: Principal, req_id: str) -> dict[str, Any]:
    row = rq.lock_requisition(session, req_id)
    if row is None:
        raise NotFound(f"no requisition {req_id}")
    actor.require_site(row["site_code"])
    return row


def get_requisition(ctx: ServiceContext, actor: Principal, req_id: str) -> dict[str, Any]:
    """One requisition with lines and picked lots; NotFound, or Forbidden for another site's."""
    with ctx.factory() as session:
        found = _detail(session, req_id)
    actor.require_site(found["site_code"])
    return found


def submit_requisition(ctx: ServiceContext, actor: Principal, cmd: c.SubmitRequisition) -> dict[str, Any]:
    """draft → submitted; Conflict from any other status."""
    actor.require(*SITE_ROLES)
    with unit_of_work(ctx.factory) as session:
        row = _locked(session, actor, cmd.requisition_id)
        check_transition(row["status"], Status.SUBMITTED)
        rq.set_status(session, row["id"], Status.SUBMITTED, now(ctx))
        return _detail(session, row["id"])


def approve_requisition(ctx: ServiceContext, actor: Principal, cmd: c.ApproveRequisition) -> dict[str, Any]:
    """submitted → approved: quantities (cuts need reasons) allocated from central lots FEFO.

    The item's lots are row-locked (PostgreSQL) in id order, so concurrent approvals queue per
    item and never drive a lot below zero. Raises Conflict naming `lines[code].approved_quantity`
    when unexpired central stock is short (nothing is allocated then).
    """
    actor.require(*CENTRAL_ROLES)
    at = now(ctx)
    with unit_of_work(ctx.factory) as session:
        row = _locked(session, actor, cmd.requisition_id)
        check_transition(row["status"], Status.APPROVED)
        lines = rq.lines_of(session, row["id"])
        requested = {line["item_code"]: line["quantity"] for line in lines}
        approved = {a.item_code: a.approved_quantity for a in cmd.lines}
        reasons = {a.item_code: a.reason for a in cmd.lines}
        # Package sizes matter only for cut lines (requested quantities were whole packages already).
        sizes = {k: v.package_size for k, v in ref.item_facts(session, approved).items()} if approved else {}
        check_approval(requested, approved, reasons, sizes)
        final = {code: approved.get(code, asked) for code, asked in requested.items()}
        if not any(final.values()):
            raise InvalidInput("nothing approved: reject the requisition instead", {"lines": "every line cut to 0"})
        # Requisition-row writes first: the lots' row locks are then held only for the lot writes and the commit.
        rq.set_approved_quantities(session, row["id"], {k: (v, reasons.get(k)) for k, v in final.items()})
        rq.set_status(session, row["id"], Status.APPROVED, at, decided_by=actor.subject, decision_reason=cmd.note)
        lots = stock.lock_central_lots(session, [code for code, qty in final.items() if qty])
        allocations: list[Allocation] = []
        short: dict[str, str] = {}
        for code, qty in final.items():
            try:
                allocations += allocate_fefo(lots, code, qty, today(ctx))
            except InsufficientStock as exc:
                short[f"lines[{code}].approved_quantity"] = f"only {exc.available} unexpired in central stock"
        if short:
            raise Conflict("not enough central stock for this approval", short)
        stock.take_from_central(session, allocations, "allocation", row["id"], at)
        rq.insert_allocations(session, row["id"], allocations)
        # The answer is composed from what this transaction wrote: no re-reads on the hot path.
        return {
            **row, "status": Status.APPROVED.value, "version": row["version"] + 1, "updated_at": at,
            "decided_by": actor.subject, "decision_reason": cmd.note,
            "lines": [{**line, "approved_quantity": final[line["item_code"]], "cut_reason": reasons.get(line["item_code"])}
                      for line in lines],
            "allocations": [
                {"item_code": a.lot.item_code, "lot_id": a.lot.lot_id, "batch_no": a.lot.batch_no, "expiry": a.lot.expiry,
                 "unit_cost": a.lot.unit_cost, "quantity": a.quantity, "received_quantity": None, "discrepancy": None,
                 "note": None}
                for a in allocations
            ],
        }  # fmt: skip


def reject_requisition(ctx: ServiceContext, actor: Principal, cmd: c.RejectRequisition) -> dict[str, Any]:
    """submitted → rejected with a reason."""
    actor.require(*CENTRAL_ROLES)
    if not cmd.reason.strip():
        raise InvalidInput("a rejection says why", {"reason": "required"})
    with unit_of_work(ctx.factory) as session:
        row = _locked(session, actor, cmd.requisition_id)
        check_transition(row["status"], Status.REJECTED)
        rq.set_status(session, row["id"], Status.REJECTED, now(ctx), decided_by=actor.subject, decision_reason=cmd.reason)
        return _detail(session, row["id"])


def shipment_payload(req: dict[str, Any], items: dict[str, ItemFacts], ready_at: Any, deliver_by: Any) -> dict[str, Any]:
    """The procurement.shipment.ready payload: lines with compartment and litres, totals per compartment.

    Volume and weight come from the formulary's per-package figures (cm³, g) scaled by the
    number of dispensing units: litres = units ÷ package_size × volume_cm3 ÷ 1000.
    """
    per_item: dict[str, int] = defaultdict(int)
    for a in req["allocations"]:
        per_item[a["item_code"]] += a["quantity"]
    lines: list[dict[str, Any]] = []
    volumes: dict[str, float] = defaultdict(float)
    weights: dict[str, float] = defaultdict(float)
    for code, qty in sorted(per_item.items()):
        item = items[code]
        packs = qty / item.package_size
        litres, kg = round(packs * item.volume_cm3 / 1000, 4), round(packs * item.weight_g / 1000, 4)
        lines.append({"item_code": code, "quantity": qty, "compartment": item.compartment, "volume_l": litres, "weight_kg": kg})
        volumes[item.compartment] += litres
        weights[item.compartment] += kg
    return {
        "shipment_id": f"S-{req['id']}", "site_code": req["site_code"], "requisition_id": req["id"],
        "ready_at": isoformat(ready_at), "deliver_by": deliver_by, "priority": URGENT if req["urgent"] else NORMAL,
        "lines": lines, "volumes_l": {k: round(v, 4) for k, v in volumes.items()},
        "weights_kg": {k: round(v, 4) for k, v in weights.items()},
    }  # fmt: skip


def pick_requisition(ctx: ServiceContext, actor: Principal, cmd: c.PickRequisition) -> dict[str, Any]:
    """approved → picked; writes procurement.shipment.ready (urgent requisitions as urgent shipments)."""
    actor.require(*CENTRAL_ROLES)
    at = now(ctx)
    with unit_of_work(ctx.factory) as session:
        row = _locked(session, actor, cmd.requisition_id)
        check_transition(row["status"], Status.PICKED)
        req = _detail(session, row["id"])
        items = ref.item_facts(session, (a["item_code"] for a in req["allocations"]))
        deliver_by = today(ctx).isoformat() if req["urgent"] else None
        payload = shipment_payload(req, items, at, deliver_by)
        rq.set_status(session, row["id"], Status.PICKED, at, shipment_id=payload["shipment_id"])
        ctx.record(session, "procurement.shipment.ready", payload, subject=payload["shipment_id"])
        return _detail(session, row["id"])


def ship_requisition(ctx: ServiceContext, actor: Principal, cmd: c.ShipRequisition) -> dict[str, Any]:
    """picked → shipped by hand (no dispatch route: the site collects)."""
    actor.require(*CENTRAL_ROLES)
    with unit_of_work(ctx.factory) as session:
        row = _locked(session, actor, cmd.requisition_id)
        check_transition(row["status"], Status.SHIPPED)
        rq.set_status(session, row["id"], Status.SHIPPED, now(ctx))
        return _detail(session, row["id"])


def receive_requisition(ctx: ServiceContext, actor: Principal, cmd: c.ReceiveRequisition) -> dict[str, Any]:
    """shipped → received: each picked (item, batch) counted, discrepancies kept, stock booked at the site.

    Every shipped item is counted once, per batch or (without batch_no) for the whole item, which
    is then spread over its batches FEFO; InvalidInput names `lines[i].field` otherwise.
    """
    actor.require(*SITE_ROLES)
    at = now(ctx)
    with unit_of_work(ctx.factory) as session:
        row = _locked(session, actor, cmd.requisition_id)
        check_transition(row["status"], Status.RECEIVED)
        allocations = rq.allocations_of(session, row["id"])
        # Other requisitions' receipts, transfers and counts may write the same site lots meanwhile.
        stock.lock_site_stock(session, ((row["site_code"], a["item_code"]) for a in allocations))
        shipped: dict[tuple[str, str], int] = defaultdict(int)
        for a in allocations:
            shipped[(a["item_code"], a["batch_no"])] += a["quantity"]
        counted = split_by_batch(shipped, cmd.lines)
        check_site_receipt(shipped, counted)
        named = {(line.item_code, line.batch_no) for line in counted}
        missing = [f"{k[0]}/{k[1]}" for k in shipped if k not in named]
        if missing:
            raise InvalidInput("every shipped lot is counted", {"lines": f"missing {', '.join(sorted(missing))}"})
        lots = {lot["id"]: lot for lot in stock.central_lots_by_id(session, [a["lot_id"] for a in allocations])}
        for line in counted:
            left = line.received_quantity
            for a in (a for a in allocations if (a["item_code"], a["batch_no"]) == (line.item_code, line.batch_no)):
                got = min(left, a["quantity"])
                left -= got
                rq.record_received(session, a["id"], got, line.discrepancy, line.note)
                if got:
                    stock.move_site_stock(
                        session, row["site_code"], a["item_code"], a["batch_no"], got, "receipt", at=at, ref=row["id"],
                        actor=actor.subject, expiry=a["expiry"], unit_cost=a["unit_cost"],
                        trace_codes=lots[a["lot_id"]]["trace_codes"],
                    )  # fmt: skip
        rq.set_status(session, row["id"], Status.RECEIVED, at, received_at=at, received_by=actor.subject)
        return _detail(session, row["id"])
