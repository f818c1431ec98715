"""Idempotent consumption: an inbox row per (consumer, event id), written with the handler's effects."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.events.contracts import ContractError
from shared.events.envelope import CloudEvent, load_payload

Handler = Callable[[Session, dict[str, Any], CloudEvent], None]
"""handler(session, payload, event): payload is event.data loaded through its contract."""

log = logging.getLogger(__name__)


class PoisonMessage(Exception):
    """A message that can never be handled (bad envelope, payload its contract rejects).

    It is dead-lettered at once with this reason, without retries.
    """


@dataclass(frozen=True)
class Delivery:
    """One event ready for a handler: its payload already loaded through the contract."""

    event: CloudEvent
    payload: dict[str, Any]
    handler: Handler


def prepare(event: CloudEvent, handler: Handler) -> Delivery:
    """Load the event's payload through its contract; PoisonMessage if the contract rejects it."""
    try:
        payload = load_payload(event)
    except ContractError as exc:
        raise PoisonMessage(f"payload rejected by its contract: {exc}") from exc
    return Delivery(event, payload, handler)


def consume_once(
    factory: sessionmaker[Session],
    metadata: MetaData,
    consumer: str,
    event: CloudEvent,
    handler: Handler,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Run handler for event unless this consumer already has; True if it ran.

    The inbox row is inserted first, in the same transaction as the handler's writes: a
    redelivered event hits the primary key and changes nothing; a handler that fails rolls
    back its inbox row too, so the retry runs it again. On PostgreSQL a concurrent duplicate
    waits on the key until the first commits, then sees the conflict. Raises PoisonMessage when
    the payload is not given and its contract rejects event.data.
    """
    delivery = prepare(event, handler) if payload is None else Delivery(event, payload, handler)
    _, inbox = bus_tables(metadata)
    session = factory()
    try:
        with session.begin():
            try:
                session.execute(
                    insert(inbox).values(
                        consumer=consumer, event_id=event.id, event_type=event.type, received_at=utcnow()
                    )
                )
            except IntegrityError:
                # Only the inbox insert is guarded: a handler's own integrity error must fail loudly.
                session.rollback()
                log.info("duplicate events skipped", extra={"consumer": consumer, "count": 1})
                return False
            delivery.handler(session, delivery.payload, event)
        return True
    finally:
        session.close()


def consume_batch(
    factory: sessionmaker[Session], metadata: MetaData, consumer: str, deliveries: Sequence[Delivery]
) -> list[bool]:
    """Run several deliveries in ONE transaction, each at most once; per delivery, True if it ran.

    Events this consumer already has (an inbox row, or an earlier copy in the same batch) are
    skipped. If any handler raises, or a concurrent consumer inserts one of the inbox rows first,
    the whole transaction rolls back and the exception propagates: the caller then retries the
    deliveries one by one with consume_once, so a failing message is isolated and the others
    still apply exactly once.
    """
    if not deliveries:
        return []
    _, inbox = bus_tables(metadata)
    session = factory()
    try:
        with session.begin():
            ids = {d.event.id for d in deliveries}
            seen = set(
                session.execute(
                    select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id.in_(ids))
                ).scalars()
            )
            ran: list[bool] = []
            fresh: list[Delivery] = []
            for delivery in deliveries:
                is_new = delivery.event.id not in seen
                seen.add(delivery.event.id)
                ran.append(is_new)
                if is_new:
                    fresh.append(delivery)
            if fresh:
                now = utcnow()
                session.execute(
                    insert(inbox),
                    [
                        {"consumer": consumer, "event_id": d.event.id, "event_type": d.event.type, "received_at": now}
                        for d in fresh
                    ],
                )
            for delivery in fresh:
                delivery.handler(session, delivery.payload, delivery.event)
        if len(fresh) < len(ran):  # counted after the commit (bench.soak reads "duplicates suppressed" from it)
            log.info("duplicate events skipped", extra={"consumer": consumer, "count": len(ran) - len(fresh)})
        return ran
    finally:
        session.close()
