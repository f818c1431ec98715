"""Event handlers: HANDLERS maps event type → handler(session, payload, event); the queue binds to its keys.

Every handler runs inside the inbox transaction (shared/bus/inbox.py), so a redelivered event
changes nothing; payloads arrive loaded through their contracts (shared/events/contracts.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.procurement.service import stock
from services.procurement.store import metadata
from shared.bus.inbox import Handler
from shared.clock import utcnow
from shared.events.envelope import CloudEvent
from shared.reference import reference_handlers


def prescription_approved(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
    """review.prescription.approved → the prescribing site's stock goes down (once per prescription)."""
    stock.prescription_approved(session, payload, utcnow())


def plan_published(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
    """dispatch.plan.published → our shipments on routes are shipped with their expected arrival."""
    stock.plan_published(session, payload, utcnow())


def stop_completed(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
    """dispatch.stop.completed → proof of delivery on the requisitions of the stop's shipments."""
    stock.stop_completed(session, payload, utcnow())


HANDLERS: dict[str, Handler] = {
    **reference_handlers(metadata),
    "review.prescription.approved": prescription_approved,
    "dispatch.plan.published": plan_published,
    "dispatch.stop.completed": stop_completed,
}
