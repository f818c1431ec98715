"""Dispatch's event handlers: ``HANDLERS`` maps each event type to ``handler(session, payload, event)``.

The queue's bindings are derived from this map's keys. ``payload`` is ``event.data`` already loaded
through its contract in shared/events/contracts.py (dates parsed, defaults filled).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.dispatch import store
from services.dispatch.model import shipment_volumes
from shared.bus.inbox import Handler
from shared.clock import utcnow
from shared.events.envelope import CloudEvent
from shared.reference import reference_handlers


def on_shipment_ready(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
    """procurement.shipment.ready: the shipment joins the pending list (a repeat announcement is ignored)."""
    if store.shipment_exists(session, payload["shipment_id"]):
        return  # the same shipment announced twice (a procurement retry): keep the first
    deliver_by = payload.get("deliver_by")
    store.insert_shipment(session, {
        "id": payload["shipment_id"],
        "site_code": payload["site_code"],
        "source": "event",
        "status": "pending",
        "deliver_l": payload.get("volumes_l") or shipment_volumes(payload["lines"]),
        "pickup_l": {},
        "lines": [dict(line) for line in payload["lines"]],
        "priority": payload.get("priority", 1),
        "deliver_by": deliver_by.isoformat() if isinstance(deliver_by, date) else deliver_by,
        "note": None,
        "created_at": utcnow(),
        "created_by": event.source,
    })  # fmt: skip


HANDLERS: Mapping[str, Handler] = {
    **reference_handlers(store.metadata),
    "procurement.shipment.ready": on_shipment_ready,
}
