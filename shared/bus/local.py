"""The embedded default's delivery: the relay hands each outbox row straight to the consuming
services' handlers (in their own databases) and marks it sent only once every one of them has
committed it. "Sent" therefore means "durably handed over", as on RabbitMQ with confirms.

A crash at any point loses nothing: a row is marked sent only after the consumers' transactions
(inbox row + effects) have committed; a crash before the mark re-delivers it after the restart,
and the consumers' inboxes absorb the repeat. Per consumer, events are applied in outbox order;
a consumer that fails on an event stops there (later events wait), the failure is counted on the
outbox row (attempts, last_error) and retried on the next pass; after max_retries (never for a
lock wait that timed out: that is retried until the lock frees), or at once for a payload its
contract rejects, the row is dead-lettered for that consumer: marked sent with
`last_error` beginning "dead-lettered", and the consumer carries on with the next event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.inbox import PoisonMessage
from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.db import is_lock_timeout, read_only, unit_of_work
from shared.events.envelope import CloudEvent, EnvelopeError

log = logging.getLogger(__name__)

DEAD_LETTERED = "dead-lettered"


@dataclass(frozen=True)
class LocalConsumer:
    """One consuming service as the local relay sees it.

    handles(event_type) says whether it subscribes; deliver(events) applies events in order and
    returns (how many leading events are committed, the exception that stopped it or None).
    """

    name: str
    handles: Callable[[str], bool]
    deliver: Callable[[list[CloudEvent]], tuple[int, BaseException | None]]


@dataclass(frozen=True)
class LocalRelayResult:
    """What one pass did: rows marked sent, and the error that held the next row back (if any)."""

    sent: int
    blocked: str | None = None
    attempts: int = 0


def _parse(envelope: str) -> CloudEvent | None:
    try:
        return CloudEvent.from_dict(json.loads(envelope))
    except (EnvelopeError, ValueError):
        return None  # cannot happen for rows record_event wrote; dead-lettered below if it does


def relay_local(
    factory: sessionmaker[Session],
    metadata: MetaData,
    consumers: Mapping[str, LocalConsumer],
    *,
    batch_size: int = 200,
    max_retries: int = 5,
) -> LocalRelayResult:
    """Deliver up to batch_size unsent outbox rows to their consumers; mark the delivered ones sent.

    The outbox is read in a read-only transaction (it never holds the producer's write lock while
    the consumers work); only the final "mark sent" is a short write transaction.
    """
    outbox, _ = bus_tables(metadata)
    with read_only(factory) as session:
        rows = session.execute(
            select(outbox.c.id, outbox.c.event_type, outbox.c.envelope, outbox.c.attempts)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
            .limit(batch_size)
        ).all()
    if not rows:
        return LocalRelayResult(0)
    events = [_parse(r.envelope) for r in rows]
    # How far each consumer got, counted in rows (rows it does not subscribe to count as done).
    reached: dict[str, int] = {}
    errors: dict[str, BaseException] = {}
    for name, consumer in consumers.items():
        mine = [i for i, (r, e) in enumerate(zip(rows, events, strict=True)) if e is not None and consumer.handles(r.event_type)]
        done, error = consumer.deliver([events[i] for i in mine]) if mine else (0, None)  # type: ignore[misc]
        if error is None or done >= len(mine):
            reached[name] = len(rows)
        else:
            reached[name] = mine[done]
            errors[name] = error
    bad_envelope = next((i for i, e in enumerate(events) if e is None), len(rows))
    prefix = min([bad_envelope, *reached.values()])
    sent_ids = [r.id for r in rows[:prefix]]
    blocked = rows[prefix] if prefix < len(rows) else None
    now = utcnow()
    with unit_of_work(factory) as session:
        if sent_ids:
            session.execute(update(outbox).where(outbox.c.id.in_(sent_ids)).values(sent_at=now))
        if blocked is None:
            return LocalRelayResult(len(sent_ids))
        failing = {n: e for n, e in errors.items() if reached[n] == prefix}
        reason = "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in failing.items()) or "invalid envelope"
        attempts = blocked.attempts + 1
        poison = prefix == bad_envelope or any(isinstance(e, PoisonMessage) for e in failing.values())
        # A lock wait that timed out is transient: the event waits for the lock however many passes
        # that takes (dead-lettering it would lose it from the read model for good).
        transient = bool(failing) and all(is_lock_timeout(e) for e in failing.values())
        if poison or (attempts > max_retries and not transient):
            log.error("event dead-lettered", extra={"outbox_id": blocked.id, "reason": reason})
            session.execute(
                update(outbox)
                .where(outbox.c.id == blocked.id)
                .values(sent_at=now, attempts=attempts, last_error=f"{DEAD_LETTERED} ({reason})"[:2000])
            )
            return LocalRelayResult(len(sent_ids) + 1, None, attempts)
        log.warning("event delivery failed", extra={"outbox_id": blocked.id, "attempt": attempts, "error": reason})
        session.execute(
            update(outbox).where(outbox.c.id == blocked.id).values(attempts=attempts, last_error=reason[:2000])
        )
        return LocalRelayResult(len(sent_ids), reason, attempts)


def dead_letters(factory: sessionmaker[Session], metadata: MetaData, limit: int = 100) -> list[dict[str, Any]]:
    """Rows the local relay dead-lettered: id, type, reason (newest first)."""
    outbox, _ = bus_tables(metadata)
    with read_only(factory) as session:
        rows = session.execute(
            select(outbox.c.event_id, outbox.c.event_type, outbox.c.last_error)
            .where(outbox.c.last_error.like(f"{DEAD_LETTERED}%"))
            .order_by(outbox.c.id.desc())
            .limit(limit)
        ).all()
    return [{"event_id": r.event_id, "event_type": r.event_type, "reason": r.last_error} for r in rows]
