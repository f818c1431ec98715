"""Dispatch's shipment use cases: hand-made shipments in, read, cancelled while pending, listed.

One function per command (``commands.py``), each in one unit of work, raising shared.errors
exceptions (InvalidInput 422, NotFound 404, Conflict 409, Forbidden 403). Shipments from
procurement arrive by event (``handlers.py``).
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from services.dispatch import queries, store
from services.dispatch.commands import AddShipment, CancelShipment, ShipmentFilter
from services.dispatch.model import MAX_PARTS
from services.dispatch.service import DISPATCHERS, today
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.runtime import ServiceContext

DELIVER_BY_MAX_DAYS = 366  # a deliver-by day further out is a typing slip (9999-12-31), not a due date

# --- shipments ---------------------------------------------------------------------------------


def add_shipment(ctx: ServiceContext, actor: Principal, cmd: AddShipment) -> dict[str, Any]:
    """Record a hand-made shipment (pending). InvalidInput when the site is unknown or the hub, when
    ``deliver_by`` has passed or lies more than DELIVER_BY_MAX_DAYS ahead, when
    no vehicle has a compartment it needs, or when it would need more than MAX_PARTS vehicle loads;
    an order larger than any compartment is accepted and split into several stops at that site
    when the day is planned."""
    actor.require(*DISPATCHERS)
    actor.require_site(cmd.site_code)
    with unit_of_work(ctx.factory) as session:
        site = store.site_row(session, cmd.site_code)
        if site is None:
            raise InvalidInput(f"no site {cmd.site_code}", {"site_code": "no such site"})
        if site.is_hub:
            raise InvalidInput("the hub is where routes start", {"site_code": "the hub cannot be a destination"})
        if cmd.deliver_by is not None and cmd.deliver_by < today():
            raise InvalidInput(f"{cmd.deliver_by} has passed", {"deliver_by": "须为今天或以后 (today or later)"})
        if cmd.deliver_by is not None and cmd.deliver_by > today() + timedelta(days=DELIVER_BY_MAX_DAYS):
            raise InvalidInput(f"{cmd.deliver_by} is more than {DELIVER_BY_MAX_DAYS} days ahead",
                               {"deliver_by": f"须在今天起 {DELIVER_BY_MAX_DAYS} 天内 (within {DELIVER_BY_MAX_DAYS} days)"})  # fmt: skip
        largest = store.largest_compartments(session)
        problems = {f"{side}.{c}": f"no active vehicle has {'an' if c[:1] in 'aeiou' else 'a'} {c} compartment"
                    for side, volumes in (("deliver", cmd.deliver), ("pickup", cmd.pickup))
                    for c, litres in volumes.items() if litres > 0 and largest.get(c, 0.0) <= 0}  # fmt: skip
        for side, volumes in (("deliver", cmd.deliver), ("pickup", cmd.pickup)):
            for c, litres in volumes.items():
                loads = math.ceil(litres / largest[c] - 1e-9) if largest.get(c, 0.0) > 0 else 0
                if loads > MAX_PARTS:
                    problems[f"{side}.{c}"] = (f"{litres:g} L needs {loads} vehicle loads (the largest {c} compartment "
                                               f"holds {largest[c]:g} L; at most {MAX_PARTS} loads per order)")  # fmt: skip
        if problems:
            raise InvalidInput("no vehicle can carry this shipment", problems)
        row = {
            "id": f"M-{uuid.uuid4().hex[:10]}", "site_code": cmd.site_code, "source": "manual", "status": "pending",
            "deliver_l": dict(cmd.deliver), "pickup_l": dict(cmd.pickup),
            "lines": [{"name": i.name, "quantity": i.quantity, "unit": i.unit, "item_code": i.item_code} for i in cmd.items],
            "priority": cmd.priority, "deliver_by": cmd.deliver_by.isoformat() if cmd.deliver_by else None,
            "note": cmd.note, "created_at": utcnow(), "created_by": actor.subject,
        }  # fmt: skip
        store.insert_shipment(session, row)
        return row


def get_shipment(ctx: ServiceContext, actor: Principal, shipment_id: str) -> dict[str, Any]:
    """One shipment; NotFound, or Forbidden for a storekeeper of another site."""
    with ctx.factory() as session:
        row = store.shipment(session, shipment_id)
    if row is None:
        raise NotFound(f"no shipment {shipment_id}")
    actor.require_site(row["site_code"])
    return row


def cancel_shipment(ctx: ServiceContext, actor: Principal, cmd: CancelShipment) -> dict[str, Any]:
    """Withdraw a pending shipment. NotFound; Conflict once a published plan carries it."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        row = store.shipment(session, cmd.shipment_id, lock=True)
        if row is None:
            raise NotFound(f"no shipment {cmd.shipment_id}")
        actor.require_site(row["site_code"])  # a storekeeper's token stays on its site whatever else it holds
        if not store.cancel_shipment(session, cmd.shipment_id):
            raise Conflict(f"shipment {cmd.shipment_id} is {row['status']}; only a pending one can be cancelled",
                           {"status": row["status"]})  # fmt: skip
        return {**row, "status": "cancelled"}


def list_shipments(ctx: ServiceContext, actor: Principal, flt: ShipmentFilter) -> list[dict[str, Any]]:
    """Shipments by status; a storekeeper sees only their own site's (Principal.site_scope)."""
    scope = actor.site_scope()
    if scope is not None and flt.site_code not in (None, scope):
        actor.require_site(flt.site_code or "")
    with ctx.factory() as session:
        return queries.list_shipments(session, flt.status, scope if scope is not None else flt.site_code)
