"""The embedded default's delivery: the relay hands each outbox row straight to the consuming
services' handlers (in their own databases) and marks it sent only once every one of them has
committed it. "Sent" therefore means "durably handed over", as on RabbitMQ with confirms.

A crash at any point loses nothing: a row is marked sent only after the consumers' transactions
(inbox row + effects) have committed; a crash before the mark re-delivers it after the restart,
and the consumers' inboxes absorb the repeat. Per consumer, events are applied in outbox order;
a consumer that fails on an event stops there (later events wait), the failure is counted on the
outbox row (attempts, last_error) and retried on the next pass; after max_retries (never for a
lock wait that timed out: that is retried until the lock frees), or at once for a payload its
contract rejects, the row is dead-lettered for that consumer: marked sent with `last_error`
"dead-lettered for <consumers> (<reason>)", and the consumer carries on with the next event. A row
that is not a CloudEvent, or whose type has no contract, is dead-lettered at once for every
subscriber ("for *"). `countyhub dlq replay` (replay_local_dead_letters) makes a dead-lettered row
unsent again with `last_error` "replay for <consumers>": the relay then offers it to those consumers
only; a consumer that applied it before would skip it anyway (its inbox).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.inbox import PoisonMessage
from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.db import is_lock_timeout, read_only, unit_of_work
from shared.events.contracts import CONTRACTS
from shared.events.envelope import CloudEvent, EnvelopeError

log = logging.getLogger(__name__)

DEAD_LETTERED = "dead-lettered"
REPLAY = "replay"
EVERY = "*"  # "for *": every consumer that subscribes to the row's type
_FOR = re.compile(r"^(dead-lettered|replay) for ([^ :(]+)")


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


def _parse(envelope: str) -> CloudEvent | str:
    """The row's event, or why it can never be delivered (rows record_event wrote always parse)."""
    try:
        event = CloudEvent.from_dict(envelope)  # "not JSON: …" names a row that does not parse
    except EnvelopeError as exc:
        return f"invalid envelope: {exc}"
    if event.type not in CONTRACTS:
        return f"unknown event type: {event.type}"
    return event


def marked_for(last_error: str | None) -> tuple[str, frozenset[str] | None] | None:
    """("dead-lettered" or "replay", the consumers named, None for every subscriber) of a marked
    `last_error`; None when it carries no such mark (never failed, or an ordinary failure)."""
    found = _FOR.match(last_error or "")
    if found is None:
        return None
    names = found.group(2)
    return found.group(1), None if names == EVERY else frozenset(names.split(","))


def _names(consumers: frozenset[str] | None) -> str:
    return EVERY if consumers is None else ",".join(sorted(consumers))


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
            select(outbox.c.id, outbox.c.event_type, outbox.c.envelope, outbox.c.attempts, outbox.c.last_error)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
            .limit(batch_size)
        ).all()
    if not rows:
        return LocalRelayResult(0)
    parsed = [_parse(r.envelope) for r in rows]
    events = [e if isinstance(e, CloudEvent) else None for e in parsed]
    # A replayed row goes only to the consumers it was dead-lettered for.
    targets = [m[1] if (m := marked_for(r.last_error)) and m[0] == REPLAY else None for r in rows]

    def offered(i: int, name: str, consumer: LocalConsumer) -> bool:
        wanted = targets[i]
        return events[i] is not None and consumer.handles(rows[i].event_type) and (wanted is None or name in wanted)

    # How far each consumer got, counted in rows (rows it does not subscribe to count as done).
    reached: dict[str, int] = {}
    errors: dict[str, BaseException] = {}
    for name, consumer in consumers.items():
        mine = [i for i in range(len(rows)) if offered(i, name, consumer)]
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
        unusable = parsed[prefix] if prefix == bad_envelope else None
        reason = str(unusable) if unusable else "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in failing.items())
        attempts = blocked.attempts + 1
        poison = unusable is not None or any(isinstance(e, PoisonMessage) for e in failing.values())
        # A lock wait that timed out is transient: the event waits for the lock however many passes
        # that takes (dead-lettering it would lose it from the read model for good).
        transient = bool(failing) and all(is_lock_timeout(e) for e in failing.values())
        if poison or (attempts > max_retries and not transient):
            whom = None if unusable is not None else frozenset(failing)
            log.error("event dead-lettered", extra={"outbox_id": blocked.id, "consumers": _names(whom), "reason": reason})
            session.execute(
                update(outbox)
                .where(outbox.c.id == blocked.id)
                .values(sent_at=now, attempts=attempts, last_error=f"{DEAD_LETTERED} for {_names(whom)} ({reason})"[:2000])
            )
            return LocalRelayResult(len(sent_ids) + 1, None, attempts)
        log.warning("event delivery failed", extra={"outbox_id": blocked.id, "attempt": attempts, "error": reason})
        if targets[prefix] is not None:  # still a replay: keep whom it is for
            reason = f"{REPLAY} for {_names(targets[prefix])}: {reason}"
        session.execute(
            update(outbox).where(outbox.c.id == blocked.id).values(attempts=attempts, last_error=reason[:2000])
        )
        return LocalRelayResult(len(sent_ids), reason, attempts)


def dead_letters(
    factory: sessionmaker[Session], metadata: MetaData, limit: int = 100, consumer: str | None = None
) -> list[dict[str, Any]]:
    """Rows the local relay dead-lettered, newest first, each as
    {event_id, event_type, consumers: names or "*", reason: the whole mark, at: when (UTC datetime)};
    with `consumer`, only those dead-lettered for it (or for every subscriber)."""
    outbox, _ = bus_tables(metadata)
    with read_only(factory) as session:
        rows = session.execute(
            select(outbox.c.event_id, outbox.c.event_type, outbox.c.last_error, outbox.c.sent_at)
            .where(outbox.c.sent_at.is_not(None), outbox.c.last_error.like(f"{DEAD_LETTERED}%"))
            .order_by(outbox.c.id.desc())
        ).all()
    out: list[dict[str, Any]] = []
    for r in rows:
        whom = marked_for(r.last_error)
        names = whom[1] if whom else None
        if consumer is not None and names is not None and consumer not in names:
            continue
        out.append({"event_id": r.event_id, "event_type": r.event_type, "consumers": _names(names),
                    "reason": r.last_error, "at": r.sent_at})  # fmt: skip
        if len(out) >= limit:
            break
    return out


def replay_local_dead_letters(factory: sessionmaker[Session], metadata: MetaData, consumer: str | None = None) -> int:
    """Offer dead-lettered rows again (those dead-lettered for `consumer`, or all); return how many.

    Each row becomes unsent with `last_error` "replay for <the consumers it was dead-lettered for>":
    the relay (running or next started) delivers it to them alone, before any later row. The row
    keeps its event id, so a consumer that applied it meanwhile skips it (its inbox). A row
    dead-lettered for several consumers is offered to all of them, whichever one is named.
    """
    outbox, _ = bus_tables(metadata)
    with unit_of_work(factory) as session:
        rows = session.execute(
            select(outbox.c.id, outbox.c.last_error)
            .where(outbox.c.sent_at.is_not(None), outbox.c.last_error.like(f"{DEAD_LETTERED}%"))
            .order_by(outbox.c.id)
        ).all()
        replayed = 0
        for r in rows:
            whom = marked_for(r.last_error)
            names = whom[1] if whom else None
            if consumer is not None and names is not None and consumer not in names:
                continue
            session.execute(
                update(outbox)
                .where(outbox.c.id == r.id, outbox.c.sent_at.is_not(None))
                .values(sent_at=None, attempts=0, last_error=f"{REPLAY} for {_names(names)}")
            )
            replayed += 1
    return replayed
