"""Site stock use cases: manual dispensing and counts (盘点), 调剂 transfers, and the bus events' effects."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.procurement.model import commands as c
from services.procurement.model.ledger import InsufficientStock, Lot, allocate_fefo, consume_fefo
from services.procurement.model.requisition import Status
from services.procurement.service import SITE_ROLES, now, today
from services.procurement.store import receiving as rcv
from services.procurement.store import reference as ref
from services.procurement.store import request_keys as keys
from services.procurement.store import requisitions as rq
from services.procurement.store import stock
from shared.auth import Principal
from shared.clock import as_utc
from shared.db import read_only, unit_of_work
from shared.errors import Conflict, InvalidInput
from shared.runtime import ServiceContext

UNLOTTED = ""


def consume_at_site(
    session: Session, site_code: str, item_code: str, quantity: int, kind: str, at: datetime,
    ref_id: str | None, reason: str | None = None, actor: str | None = None,
) -> None:
    """Take dispensed units from the site's lots FEFO; what the lots cannot cover goes to the unlotted balance.

    Dispensing has happened, so it is never refused; a negative unlotted balance tells the
    storekeeper a count (盘点) is due.
    """
    lots = [lot for lot in stock.lock_site_lots(session, site_code, [item_code]) if lot.batch_no != UNLOTTED]
    taken, rest = consume_fefo(lots, item_code, quantity)
    for a in taken:
        stock.move_site_stock(session, site_code, item_code, a.lot.batch_no, -a.quantity, kind, at=at, ref=ref_id,
                              reason=reason, actor=actor)  # fmt: skip
    if rest:
        stock.move_site_stock(session, site_code, item_code, UNLOTTED, -rest, kind, at=at, ref=ref_id, reason=reason, actor=actor)


def adjust_site_stock(
    ctx: ServiceContext, actor: Principal, cmd: c.AdjustSiteStock, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Manual dispensing (take `quantity`) or a count (the item, or one batch, now holds `quantity`).

    Raises Conflict naming `quantity` when a manual dispensing exceeds what the site holds (its
    stock never goes negative through this path; dispensing reported by prescription events cannot
    be refused and goes to the unlotted balance instead, see consume_at_site). With an
    idempotency key the change happens once per caller and key, also when twins race, and every
    twin gets the first answer (store/request_keys.py); InvalidInput naming `Idempotency-Key` when
    the key was used for another adjustment.
    """
    actor.require(*SITE_ROLES)
    actor.require_site(cmd.site_code)
    if not cmd.reason.strip():
        raise InvalidInput("an adjustment says why", {"reason": "required"})
    claim = keys.claim_for("adjustment", _caller(actor), idempotency_key, cmd) if idempotency_key else None
    try:
        return _adjust(ctx, actor, cmd, claim)
    except IntegrityError:
        replay = _replay(ctx, claim)
        if replay is None:
            raise
        return _adjustment_answer(replay)


def _adjust(ctx: ServiceContext, actor: Principal, cmd: c.AdjustSiteStock, claim: keys.Claim | None) -> dict[str, Any]:
    at = now(ctx)
    with unit_of_work(ctx.factory) as session:
        if claim is not None:
            earlier = _previous(session, claim)
            if earlier is not None:
                return _adjustment_answer(earlier)
            keys.take(session, claim)
        if ref.site(session, cmd.site_code) is None:
            raise InvalidInput(f"no site {cmd.site_code}", {"site_code": "no such site"})
        if cmd.item_code not in ref.item_facts(session, [cmd.item_code]):
            raise InvalidInput("not a formulary item", {"item_code": "not a formulary item"})
        lots = stock.lock_site_lots(session, cmd.site_code, [cmd.item_code])
        if cmd.kind == "dispense":
            if cmd.quantity <= 0:
                raise InvalidInput("dispense at least one unit", {"quantity": "must be at least 1"})
            on_hand = max(sum(x.balance for x in lots), 0)
            if cmd.quantity > on_hand:
                # A manual entry beyond what the site holds would drive its stock negative: count (盘点) first.
                raise Conflict("the site holds too little to dispense this", {"quantity": f"only {on_hand} on hand; count the stock first"})
            consume_at_site(session, cmd.site_code, cmd.item_code, cmd.quantity, "dispense", at, None, cmd.reason, actor.subject)
        else:
            if cmd.quantity < 0:
                raise InvalidInput("a count is not negative", {"quantity": "must be 0 or more"})
            _count(session, cmd, lots, at, actor.subject)
        result: dict[str, Any] = {"site_code": cmd.site_code, "item_code": cmd.item_code, "lots": stock.site_lots(session, cmd.site_code, cmd.item_code)}
        if claim is not None:
            keys.answer(session, claim, 200, {**result, "lots": [_lot_json(x) for x in result["lots"]]})
        return result


def _caller(actor: Principal) -> str:
    """Whose keys: the subject, and the site for a site-confined token (as the HTTP layer keys them)."""
    scope = actor.site_scope()
    return str(actor.subject) if scope is None else f"{actor.subject}@{scope}"


def _previous(session: Session, claim: keys.Claim) -> Any:
    """The answer stored under this claim (None if unclaimed); InvalidInput if the key served another command."""
    found = keys.claimed(session, claim)
    if found is None:
        return None
    if found[0] != claim.fingerprint:
        raise InvalidInput("this Idempotency-Key was used for a different request",
                           {"Idempotency-Key": "already used with another request body"})  # fmt: skip
    return found[1]


def _replay(ctx: ServiceContext, claim: keys.Claim | None) -> Any:
    """After losing the race to insert the claim: the twin's committed answer, or None (not a claim clash)."""
    if claim is None:
        return None
    with read_only(ctx.factory) as session:
        return _previous(session, claim)


def _lot_json(lot: dict[str, Any]) -> dict[str, Any]:
    return {**lot, "expiry": lot["expiry"].isoformat() if lot["expiry"] else None, "unit_cost": str(lot["unit_cost"])}


def _adjustment_answer(stored: dict[str, Any]) -> dict[str, Any]:
    """An adjustment's stored answer with dates and money typed again (as site_lots returns them)."""
    lots = [{**x, "expiry": date.fromisoformat(x["expiry"]) if x["expiry"] else None, "unit_cost": Decimal(x["unit_cost"])}
            for x in stored["lots"]]  # fmt: skip
    return {**stored, "lots": lots}


def _count(session: Session, cmd: c.AdjustSiteStock, lots: list[Lot], at: datetime, who: str) -> None:
    if cmd.batch_no is not None:
        lot = next((x for x in lots if x.batch_no == cmd.batch_no), None)
        if lot is None:
            raise InvalidInput("no such batch at this site", {"batch_no": "not held at this site"})
        delta = cmd.quantity - lot.balance
        if delta:
            stock.move_site_stock(session, cmd.site_code, cmd.item_code, cmd.batch_no, delta, "count", at=at,
                                  reason=cmd.reason, actor=who)  # fmt: skip
        return
    delta = cmd.quantity - sum(x.balance for x in lots)
    if delta > 0:
        stock.move_site_stock(session, cmd.site_code, cmd.item_code, UNLOTTED, delta, "count", at=at, reason=cmd.reason, actor=who)
    elif delta < 0:
        consume_at_site(session, cmd.site_code, cmd.item_code, -delta, "count", at, None, cmd.reason, who)
    _net_unlotted(session, cmd.site_code, cmd.item_code, at, cmd.reason, who)


def _net_unlotted(session: Session, site_code: str, item_code: str, at: datetime, reason: str, who: str) -> None:
    """After a count, a negative unlotted balance is netted against the lots (the total stays the same)."""
    lots = stock.lock_site_lots(session, site_code, [item_code])
    unlotted = sum(x.balance for x in lots if x.batch_no == UNLOTTED)
    real = [x for x in lots if x.batch_no != UNLOTTED]
    k = min(-unlotted, sum(x.balance for x in real if x.balance > 0))
    if unlotted >= 0 or k <= 0:
        return
    taken, _ = consume_fefo(real, item_code, k)
    for a in taken:
        stock.move_site_stock(session, site_code, item_code, a.lot.batch_no, -a.quantity, "count", at=at, reason=reason, actor=who)
    stock.move_site_stock(session, site_code, item_code, UNLOTTED, k, "count", at=at, reason=reason, actor=who)


def create_transfer(
    ctx: ServiceContext, actor: Principal, cmd: c.CreateTransfer, idempotency_key: str | None = None
) -> dict[str, Any]:
    """调剂 between member sites at cost: FEFO from the giving site's unexpired lots, same batches arrive.

    The pharmacy manager or the giving site's storekeeper may book it. Conflict naming `quantity`
    when the giving site holds less; never drives a lot below zero. With an idempotency key the
    transfer is booked once per caller and key, also when twins race, and every twin gets the
    same transfer back; InvalidInput naming `Idempotency-Key` when the key was used for another one.
    """
    actor.require(*SITE_ROLES)
    actor.require_site(cmd.from_site)
    if cmd.from_site == cmd.to_site:
        raise InvalidInput("a transfer goes to another site", {"to_site": "same as from_site"})
    if cmd.quantity <= 0:
        raise InvalidInput("transfer at least one unit", {"quantity": "must be at least 1"})
    claim = keys.claim_for("transfer", _caller(actor), idempotency_key, cmd) if idempotency_key else None
    try:
        return _transfer(ctx, actor, cmd, claim)
    except IntegrityError:
        replay = _replay(ctx, claim)
        if replay is None:
            raise
        with read_only(ctx.factory) as session:
            return _booked(session, replay["transfer_id"])


def _booked(session: Session, transfer_id: str) -> dict[str, Any]:
    found = rcv.transfer(session, transfer_id)
    assert found is not None, f"claimed transfer {transfer_id} is missing"  # written in the claim's own transaction
    return found


def _transfer(ctx: ServiceContext, actor: Principal, cmd: c.CreateTransfer, claim: keys.Claim | None) -> dict[str, Any]:
    at = now(ctx)
    with unit_of_work(ctx.factory) as session:
        if claim is not None:
            earlier = _previous(session, claim)
            if earlier is not None:
                return _booked(session, earlier["transfer_id"])
            keys.take(session, claim)
        for field in ("from_site", "to_site"):
            if ref.site(session, getattr(cmd, field)) is None:
                raise InvalidInput("no such site", {field: "no such site"})
        if cmd.item_code not in ref.item_facts(session, [cmd.item_code]):
            raise InvalidInput("not a formulary item", {"item_code": "not a formulary item"})
        # Both sites' stock of the item, in one sorted step: A→B and B→A at once cannot deadlock.
        stock.lock_site_stock(session, [(cmd.from_site, cmd.item_code), (cmd.to_site, cmd.item_code)])
        lots = [x for x in stock.lock_site_lots(session, cmd.from_site, [cmd.item_code]) if x.batch_no != UNLOTTED]
        try:
            taken = allocate_fefo(lots, cmd.item_code, cmd.quantity, today(ctx))
        except InsufficientStock as exc:
            raise Conflict("the giving site holds too little", {"quantity": f"only {exc.available} unexpired on hand"}) from exc
        transfer_id = f"TR-{uuid.uuid4().hex[:8].upper()}"
        value = Decimal("0")
        for a in taken:
            value += a.lot.unit_cost * a.quantity
            stock.move_site_stock(session, cmd.from_site, cmd.item_code, a.lot.batch_no, -a.quantity, "transfer_out",
                                  at=at, ref=transfer_id, reason=cmd.reason, actor=actor.subject)  # fmt: skip
            stock.move_site_stock(session, cmd.to_site, cmd.item_code, a.lot.batch_no, a.quantity, "transfer_in", at=at,
                                  ref=transfer_id, reason=cmd.reason, actor=actor.subject, expiry=a.lot.expiry,
                                  unit_cost=a.lot.unit_cost)  # fmt: skip
        row = {
            "id": transfer_id, "from_site": cmd.from_site, "to_site": cmd.to_site, "item_code": cmd.item_code,
            "quantity": cmd.quantity, "value": value, "day": today(ctx), "reason": cmd.reason,
            "lots": [{"batch_no": a.lot.batch_no, "quantity": a.quantity, "unit_cost": str(a.lot.unit_cost)} for a in taken],
            "created_by": actor.subject, "created_at": at,
        }  # fmt: skip
        rcv.insert_transfer(session, row)
        if claim is None:
            return row
        keys.answer(session, claim, 201, {"transfer_id": transfer_id})
        return _booked(session, transfer_id)  # as read back, so a twin's replay is the same answer


# --- bus events -----------------------------------------------------------------------------------


def prescription_approved(session: Session, payload: dict[str, Any], at: datetime) -> None:
    """review.prescription.approved: the prescribing site's stock goes down, once per prescription."""
    if stock.prescription_seen(session, payload["prescription_id"], payload["site_code"], at):
        return
    stock.lock_site_stock(session, ((payload["site_code"], line["item_code"]) for line in payload["lines"]))
    for line in sorted(payload["lines"], key=lambda x: x["item_code"]):
        consume_at_site(session, payload["site_code"], line["item_code"], line["quantity"], "prescription", at,
                        payload["prescription_id"])  # fmt: skip


def plan_published(session: Session, payload: dict[str, Any], at: datetime) -> None:
    """dispatch.plan.published: our shipments on a route are shipped, expected at the stop's ETA."""
    for route in payload["routes"]:
        for stop in route["stops"]:
            for req in rq.by_shipments(session, stop["shipment_ids"]):
                values = {"plan_id": payload["plan_id"], "expected_at": as_utc(stop["eta"])}
                if req["status"] == Status.PICKED:
                    rq.set_status(session, req["id"], Status.SHIPPED, at, **values)
                elif req["status"] == Status.SHIPPED and req["delivered_at"] is None:
                    rq.update_requisition(session, req["id"], **values)


def stop_completed(session: Session, payload: dict[str, Any], at: datetime) -> None:
    """dispatch.stop.completed: proof of delivery; the requisition then waits for the site's receipt."""
    for req in rq.by_shipments(session, payload["shipment_ids"]):
        values = {"delivered_at": as_utc(payload["completed_at"]), "delivered_to": payload.get("received_by")}
        if req["status"] == Status.PICKED:
            rq.set_status(session, req["id"], Status.SHIPPED, at, plan_id=payload["plan_id"], **values)
        elif req["status"] in (Status.SHIPPED, Status.RECEIVED):
            rq.update_requisition(session, req["id"], **values)


def list_transfers(ctx: ServiceContext, actor: Principal, site: str | None, month: str | None) -> list[dict[str, Any]]:
    """Transfers newest first; a site-confined caller sees only those touching its site."""
    from datetime import date as _date
    from datetime import timedelta

    scope = actor.site_scope()
    if site is not None:
        actor.require_site(site)
    start = end = None
    if month:
        start = _date.fromisoformat(month + "-01")
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    with ctx.factory() as session:
        return rcv.transfers(session, site or scope, start, end)
