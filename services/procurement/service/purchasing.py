"""Purchasing reference data and orders: distributors, manufacturers, prices, VBP contracts, purchase orders."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.procurement.model import commands as c
from services.procurement.model.invoices import norm_tax_id
from services.procurement.model.money import amount, price_text
from services.procurement.model.pricing import ListedPrice, PriceRecord, applicable_price, check_negotiated
from services.procurement.model.requisition import ItemFacts
from services.procurement.model.vbp import contract_progress, generic_key
from services.procurement.service import CENTRAL_ROLES, now, policy, today
from services.procurement.store import purchasing as pur
from services.procurement.store import receiving as rcv
from services.procurement.store import reference as ref
from services.procurement.store.queries_support import purchases_for
from shared.auth import Principal
from shared.db import unit_of_work
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.runtime import ServiceContext


def _central(actor: Principal) -> None:
    actor.require(*CENTRAL_ROLES)
    actor.require_county()


def register_distributor(ctx: ServiceContext, actor: Principal, cmd: c.RegisterDistributor) -> dict[str, Any]:
    """Create or replace an authorised distributor; InvalidInput names unknown item codes."""
    _central(actor)
    with unit_of_work(ctx.factory) as session:
        if cmd.items is not None:
            known = ref.item_facts(session, cmd.items)
            unknown = {f"items[{i}]": "not a formulary item" for i, code in enumerate(cmd.items) if code not in known}
            if unknown:
                raise InvalidInput("unknown items", unknown)
        pur.save_distributor(session, norm_tax_id(cmd.tax_id), cmd.name, cmd.items, now(ctx))
        return pur.distributor(session, norm_tax_id(cmd.tax_id)) or {}


def register_manufacturer(ctx: ServiceContext, actor: Principal, cmd: c.RegisterManufacturer) -> dict[str, Any]:
    """Create or replace a manufacturer and its agents; Conflict if the name belongs to another tax id."""
    _central(actor)
    tax_id = norm_tax_id(cmd.tax_id)
    agents = [(a.name, norm_tax_id(a.tax_id), a.kind) for a in cmd.agents]
    if len({a[1] for a in agents}) != len(agents) or tax_id in {a[1] for a in agents}:
        raise InvalidInput("each agent once, and not the manufacturer itself", {"agents": "duplicate tax_id"})
    with unit_of_work(ctx.factory) as session:
        same_name = pur.manufacturer_named(session, cmd.name)
        if same_name is not None and same_name["tax_id"] != tax_id:
            raise Conflict(f"{cmd.name} is registered with another tax id", {"name": "already registered"})
        try:
            with session.begin_nested():
                pur.save_manufacturer(session, cmd.name, tax_id, agents, now(ctx))
        except IntegrityError as exc:
            raise Conflict("the manufacturer clashes with one registered", {"tax_id": "already registered"}) from exc
    return {"name": cmd.name, "tax_id": tax_id, "agents": [{"name": n, "tax_id": t, "kind": k} for n, t, k in agents]}


def create_vbp_contract(ctx: ServiceContext, actor: Principal, cmd: c.CreateVbpContract) -> dict[str, Any]:
    """A VBP contract year; InvalidInput for unknown items, end before start, non-positive figures, overlaps."""
    _central(actor)
    problems: dict[str, str] = {}
    if cmd.end < cmd.start:
        problems["end"] = "before start"
    if cmd.price <= 0:
        problems["price"] = "must be greater than 0"
    if cmd.agreed_quantity <= 0:
        problems["agreed_quantity"] = "must be greater than 0"
    if cmd.baseline_price is not None and cmd.baseline_price <= 0:
        problems["baseline_price"] = "must be greater than 0"
    with unit_of_work(ctx.factory) as session:
        covered = _covered_items(session, cmd, problems)
        if problems:
            raise InvalidInput("the contract has invalid fields", problems)
        for found in pur.contracts_covering(session, covered).values():
            for other in found:
                if other.start <= cmd.end and cmd.start <= other.end:
                    raise Conflict(f"overlaps contract {other.id}", {"start": f"overlaps {other.start}..{other.end}"})
        row = {
            "id": f"VBP-{uuid.uuid4().hex[:8].upper()}", "item_code": cmd.item_code, "price": cmd.price,
            "agreed_quantity": cmd.agreed_quantity, "start": cmd.start, "end": cmd.end,
            "baseline_price": cmd.baseline_price, "generic_name": None if cmd.item_code else cmd.generic_name,
            "dosage_form": None if cmd.item_code else cmd.dosage_form, "strength": None if cmd.item_code else cmd.strength,
            "created_by": actor.subject, "created_at": now(ctx),
        }  # fmt: skip
        pur.insert_contract(session, row)
        return row


def _covered_items(session: Session, cmd: c.CreateVbpContract, problems: dict[str, str]) -> dict[str, ItemFacts]:
    """The active items a new contract covers: its item, or every product of its generic key."""
    if cmd.item_code:
        item = ref.item_facts(session, [cmd.item_code]).get(cmd.item_code)
        if item is None or item.status != "active":
            problems["item_code"] = "not an active formulary item"
            return {}
        return {cmd.item_code: item}
    key = generic_key(cmd.generic_name or "", cmd.dosage_form, cmd.strength)
    same = {code: i for code, i in ref.items_of_generic(session, cmd.generic_name or "").items()
            if i.status == "active" and generic_key(i.generic_name, i.dosage_form, i.strength) == key}  # fmt: skip
    if not same:
        problems["generic_name"] = "no active formulary item of this generic name, dosage form and strength"
    return same


def record_price(ctx: ServiceContext, actor: Principal, cmd: c.RecordPrice) -> dict[str, Any]:
    """A listed (挂网价) or negotiated (二次议价) price; negotiation refused for VBP and 国谈 items, and at or above 挂网价."""
    _central(actor)
    with unit_of_work(ctx.factory) as session:
        item = ref.item_facts(session, [cmd.item_code]).get(cmd.item_code)
        if item is None or item.status != "active":
            raise InvalidInput("not an active formulary item", {"item_code": "not an active formulary item"})
        if cmd.effective_to is not None and cmd.effective_to < cmd.effective_from:
            raise InvalidInput("the price ends before it starts", {"effective_to": "before effective_from"})
        if cmd.price <= 0:
            raise InvalidInput("a price is positive", {"price": "must be greater than 0"})
        table = "listed_prices" if cmd.kind == "listed" else "negotiated_prices"
        if cmd.kind == "negotiated":
            record = PriceRecord(cmd.item_code, cmd.price, cmd.effective_from, cmd.effective_to)
            is_vbp = item.vbp or bool(pur.contracts_in_force(session, {cmd.item_code: item}, cmd.effective_from))
            listed = [r for r in pur.price_records(session, "listed_prices", [cmd.item_code]).get(cmd.item_code, [])
                      if isinstance(r, ListedPrice)]  # fmt: skip
            check_negotiated(record, is_vbp, listed)
        row = {
            "item_code": cmd.item_code, "price": cmd.price, "effective_from": cmd.effective_from,
            "effective_to": cmd.effective_to, "national_negotiated": cmd.national_negotiated and cmd.kind == "listed",
            "note": cmd.note, "recorded_by": actor.subject, "recorded_at": now(ctx),
        }  # fmt: skip
        row["id"] = pur.insert_price(session, table, row)
        return {**row, "kind": cmd.kind}


def price_for(session: Session, item_code: str, day: Any) -> Any:
    """The AppliedPrice of an item on a day, or None."""
    item = ref.item_facts(session, [item_code]).get(item_code)
    vbp = pur.contracts_in_force(session, {item_code: item}, day) if item else {}
    negotiated = pur.price_records(session, "negotiated_prices", [item_code]).get(item_code, [])
    listed = pur.price_records(session, "listed_prices", [item_code]).get(item_code, [])
    return applicable_price(day, vbp[item_code].price if item_code in vbp else None, negotiated, listed)


def _needs_justification(ctx: ServiceContext, session: Session, item_code: str) -> str | None:
    """Why buying this item needs a justification: a non-selected product of a generic whose VBP contract is incomplete."""
    item = ref.item_facts(session, [item_code])[item_code]
    if pur.contracts_in_force(session, {item_code: item}, today(ctx)):
        return None
    key = generic_key(item.generic_name, item.dosage_form, item.strength)
    same = {code: i for code, i in ref.items_of_generic(session, item.generic_name).items()
            if generic_key(i.generic_name, i.dosage_form, i.strength) == key}  # fmt: skip
    contracts = {c.id: c for found in pur.contracts_covering(session, same, today(ctx)).values() for c in found}
    for contract in contracts.values():
        progress = contract_progress(contract, key, purchases_for(session, same), today(ctx), policy(ctx).vbp)
        if progress.status != "complete":
            return f"{contract.id} for {contract.item_code or item.generic_name} is at {progress.completion:.0%}"
    return None


def create_purchase_order(ctx: ServiceContext, actor: Principal, cmd: c.CreatePurchaseOrder) -> dict[str, Any]:
    """An order at the applicable prices; lines needing a justification make it wait for approval."""
    _central(actor)
    with unit_of_work(ctx.factory) as session:
        dist = pur.distributor(session, norm_tax_id(cmd.distributor_tax_id))
        if dist is None:
            raise InvalidInput("not a registered distributor", {"distributor_tax_id": "no such distributor"})
        items = ref.item_facts(session, (line.item_code for line in cmd.lines))
        problems: dict[str, str] = {}
        lines: list[dict[str, Any]] = []
        reasons: list[str] = []
        for i, line in enumerate(cmd.lines):
            item = items.get(line.item_code)
            if item is None or item.status != "active":
                problems[f"lines[{i}].item_code"] = "not an active formulary item"
                continue
            if dist["items"] is not None and line.item_code not in dist["items"]:
                problems[f"lines[{i}].item_code"] = "the distributor is not authorised for this item"
            if line.quantity <= 0 or line.quantity % item.package_size:
                problems[f"lines[{i}].quantity"] = f"whole packages: a multiple of {item.package_size}"
            price = price_for(session, line.item_code, today(ctx))
            if price is None:
                problems[f"lines[{i}].item_code"] = "no VBP, negotiated or listed price is known"
                continue
            why = _needs_justification(ctx, session, line.item_code)
            if why:
                reasons.append(f"lines[{i}]: {why}")
            lines.append({"item_code": line.item_code, "quantity": line.quantity, "unit_price": price_text(price.price),
                          "basis": price.basis, "amount": str(amount(price.price * line.quantity)),
                          "needs_justification": bool(why)})  # fmt: skip
        if reasons and not (cmd.justification or "").strip():
            problems["justification"] = "non-selected products of an incomplete VBP contract: " + "; ".join(reasons)
        if problems:
            raise InvalidInput("the purchase order has invalid lines", problems)
        row = {
            "id": f"PO-{uuid.uuid4().hex[:8].upper()}", "distributor_tax_id": dist["tax_id"],
            "status": "pending_approval" if reasons else "placed", "justification": cmd.justification,
            "created_by": actor.subject, "created_at": now(ctx), "approved_by": None, "approved_at": None,
            "lines": lines, "total": amount(sum((Decimal(x["amount"]) for x in lines), Decimal("0"))),
        }  # fmt: skip
        rcv.insert_purchase_order(session, row)
        return row


def approve_purchase_order(ctx: ServiceContext, actor: Principal, cmd: c.ApprovePurchaseOrder) -> dict[str, Any]:
    """Approve a justified order (by someone other than its author: four eyes)."""
    _central(actor)
    with unit_of_work(ctx.factory) as session:
        po = rcv.purchase_order(session, cmd.purchase_order_id)
        if po is None:
            raise NotFound(f"no purchase order {cmd.purchase_order_id}")
        if po["status"] != "pending_approval":
            raise Conflict(f"the order is {po['status']}", {"status": po["status"]})
        if po["created_by"] == actor.subject:
            raise Forbidden("the author of an order cannot approve it", {"approved_by": "same person as the author"})
        if not rcv.approve_purchase_order(session, po["id"], actor.subject, now(ctx)):  # approved meanwhile
            raise Conflict("the order was approved meanwhile", {"status": "approved meanwhile"})
        return rcv.purchase_order(session, po["id"]) or {}
