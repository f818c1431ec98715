"""Transactional outbox: events are rows written with the change; a relay publishes them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import MetaData, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.db import lock_for_update
from shared.events.envelope import CloudEvent, new_event

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], None]
SendMany = Callable[[list[dict[str, Any]]], int]
"""send_many(envelopes) -> how many leading ones the broker confirmed."""


def record_event(
    session: Session,
    metadata: MetaData,
    event_type: str,
    data: dict[str, Any],
    *,
    source: str,
    subject: str | None = None,
    correlation_id: str | None = None,
) -> CloudEvent:
    """Validate the payload against its contract and add it to the outbox in the caller's transaction."""
    event = new_event(event_type, data, source=source, subject=subject, correlation_id=correlation_id)
    outbox, _ = bus_tables(metadata)
    session.execute(
        insert(outbox).values(
            event_id=event.id,
            event_type=event.type,
            envelope=event.to_json(),
            created_at=event.time,
        )
    )
    return event


def record_events(
    session: Session,
    metadata: MetaData,
    events: Sequence[tuple[str, dict[str, Any], str | None]],
    *,
    source: str,
    correlation_id: str | None = None,
) -> list[CloudEvent]:
    """Many (event_type, data, subject) at once: each validated like `record_event`, then one multi-row insert
    per 1,000 (a 20,000-change catalogue approval writes 20,000 events in one transaction)."""
    made = [new_event(t, d, source=source, subject=s, correlation_id=correlation_id) for t, d, s in events]
    outbox, _ = bus_tables(metadata)
    rows = [{"event_id": e.id, "event_type": e.type, "envelope": e.to_json(), "created_at": e.time} for e in made]
    for start in range(0, len(rows), 1000):
        session.execute(insert(outbox), rows[start : start + 1000])
    return made


def oldest_pending_at(session: Session, metadata: MetaData) -> Any:
    """When the oldest unsent event was written (a datetime), None if nothing waits (for /metrics)."""
    outbox, _ = bus_tables(metadata)
    return session.execute(select(func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))).scalar_one_or_none()


def pending_count(session: Session, metadata: MetaData) -> int:
    """How many events wait to be published (for readiness and metrics)."""
    outbox, _ = bus_tables(metadata)
    return int(session.execute(select(func.count()).where(outbox.c.sent_at.is_(None))).scalar_one())


def relay_batch(
    factory: sessionmaker[Session],
    metadata: MetaData,
    send: Send,
    batch_size: int = 100,
    send_many: SendMany | None = None,
) -> int:
    """Publish up to batch_size unsent events in order; return how many were sent.

    Rows are locked (SKIP LOCKED on PostgreSQL) so several relays never send the same row at
    once. With send_many the batch is published at once and its confirms awaited together; it
    answers how many leading rows the broker took. Otherwise each row is sent (and confirmed) in
    turn. A failing send stops the batch there: later events wait, so per-service order holds.
    A crash after send and before commit re-sends the rows; consumers' inboxes absorb that.
    """
    outbox, _ = bus_tables(metadata)
    sent = 0
    session = factory()
    try:
        with session.begin():
            query = select(outbox.c.id, outbox.c.envelope).where(outbox.c.sent_at.is_(None))
            query = query.order_by(outbox.c.id).limit(batch_size)
            rows = session.execute(lock_for_update(query, session, skip_locked=True)).all()
            if not rows:
                return 0
            taken, error = _publish(rows, send, send_many)
            if taken < len(rows):
                failed = rows[taken]
                reason = error or "the broker did not take it"
                log.warning("outbox send failed", extra={"outbox_id": failed.id, "error": reason})
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == failed.id)
                    .values(attempts=outbox.c.attempts + 1, last_error=reason[:2000])
                )
            sent_ids = [row.id for row in rows[:taken]]
            if sent_ids:
                # One statement for the batch: the confirms already came.
                session.execute(update(outbox).where(outbox.c.id.in_(sent_ids)).values(sent_at=utcnow()))
            sent = len(sent_ids)
    finally:
        session.close()
    return sent


def _publish(rows: Sequence[Any], send: Send, send_many: SendMany | None) -> tuple[int, str | None]:
    """How many leading rows the broker took, and why the next one was not."""
    envelopes = [json.loads(row.envelope) for row in rows]
    if send_many is not None:
        try:
            return send_many(envelopes), None
        except Exception as exc:  # noqa: BLE001 - any broker failure means "try again later"
            return 0, str(exc)
    for taken, envelope in enumerate(envelopes):
        try:
            send(envelope)
        except Exception as exc:  # noqa: BLE001 - any broker failure means "try again later"
            return taken, str(exc)
    return len(envelopes), None
