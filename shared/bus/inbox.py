"""Idempotent consumption: an inbox row per (consumer, event id), written with the handler's effects."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import MetaData, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.events.envelope import CloudEvent

Handler = Callable[[Session, CloudEvent], None]


def consume_once(
    factory: sessionmaker[Session],
    metadata: MetaData,
    consumer: str,
    event: CloudEvent,
    handler: Handler,
) -> bool:
    """Run handler for event unless this consumer already has; True if it ran.

    The inbox row is inserted first, in the same transaction as the handler's writes: a
    redelivered event hits the primary key and changes nothing; a handler that fails rolls
    back its inbox row too, so the retry runs it again. On PostgreSQL a concurrent duplicate
    waits on the key until the first commits, then sees the conflict.
    """
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
                return False
            handler(session, event)
        return True
    finally:
        session.close()
