"""bench.soak's books: which events were sent and delivered, and whether each effect happened once.

Read straight from the services' databases (never from what the services say of themselves):

- sent: every producer's outbox row whose event type some service consumes (shared/bus/topology);
  `unsent` counts rows the relay has not marked sent yet.
- delivered: an event every consuming service has in its inbox (consumer, event id).
- lost: sent but missing from a consumer's inbox once everything has drained, or its effect
  missing although the inbox says it was handled.
- duplicated effects, checked on the effects that add up (the others are snapshots or state
  changes a second application would not show):
  review.prescription.approved -> procurement's site ledger holds exactly the prescription's
  quantities under its id (twice the quantities = applied twice);
  procurement.shipment.ready -> exactly one dispatch shipment with the shipment id.
Also the bus side (pika): poison messages published straight onto service queues, and the depth
of each dead-letter queue.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import Engine, create_engine, text

from shared.bus.topology import consumers_of, topology

CONSUMERS = ("procurement", "prescription_review", "dispatch")


@dataclass(frozen=True)
class Event:
    """One outbox row of a producer."""

    producer: str
    event_id: str
    type: str
    created_at: datetime
    sent: bool
    data: dict[str, Any]


@dataclass
class Books:
    """The events of a time range and what became of them."""

    sent: int = 0
    unsent: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    lost_ids: list[str] = field(default_factory=list)


class Ledger:
    """Reads the four databases; every query opens a short connection (a restarted server is fine)."""

    def __init__(self, db_urls: dict[str, str]) -> None:
        self.engines: dict[str, Engine] = {
            name: create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=2, connect_args={"connect_timeout": 3})
            for name, url in db_urls.items()
        }
        self._types: dict[str, list[str]] = {}

    def consumers(self, event_type: str) -> list[str]:
        """Services bound to an event type (cached)."""
        if event_type not in self._types:
            self._types[event_type] = consumers_of(event_type)
        return self._types[event_type]

    def events(self) -> list[Event]:
        """Every consumed event type's outbox rows, all producers."""
        out: list[Event] = []
        for producer, engine in self.engines.items():
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT event_id, event_type, created_at, sent_at, envelope FROM outbox"))
                for event_id, event_type, created, sent_at, envelope in rows:
                    if not self.consumers(event_type):
                        continue
                    data = json.loads(envelope).get("data", {}) if event_type in _EFFECTS else {}
                    out.append(Event(producer, event_id, event_type, _aware(created), sent_at is not None, data))
        return out

    def inboxes(self) -> dict[str, set[str]]:
        """Consumer -> the event ids in its inbox."""
        out: dict[str, set[str]] = {}
        for name in CONSUMERS:
            with self.engines[name].connect() as conn:
                out[name] = set(conn.execute(text("SELECT event_id FROM inbox WHERE consumer = :c"), {"c": name}).scalars())
        return out

    def effects(self) -> dict[str, Any]:
        """What the effect checks need: procurement's prescription ledger, dispatch's event shipments."""
        with self.engines["procurement"].connect() as conn:
            moved = {ref: -int(q) for ref, q in conn.execute(text(
                "SELECT ref, sum(quantity) FROM site_movements WHERE kind = 'prescription' GROUP BY ref"))}
        with self.engines["dispatch"].connect() as conn:
            shipments = Counter(conn.execute(text("SELECT id FROM shipments WHERE source = 'event'")).scalars())
        return {"moved": moved, "shipments": shipments}

    def books(self, events: Iterable[Event], inboxes: dict[str, set[str]], effects: dict[str, Any] | None) -> Books:
        """Sent, delivered, lost and duplicated for these events (effects None: the inbox only)."""
        books = Books()
        for event in events:
            books.sent += 1
            books.unsent += not event.sent
            books.by_type[event.type] += 1
            had = all(event.event_id in inboxes[c] for c in self.consumers(event.type))
            applied = _applied(event, effects) if effects is not None and had else 1
            if had and applied >= 1:
                books.delivered += 1
            else:
                books.lost += 1
                books.lost_ids.append(f"{event.type} {event.event_id}")
            books.duplicated += applied > 1
        return books

    def backlog(self, before: datetime) -> int:
        """Events created before `before` that some consumer does not have yet (recovery probe)."""
        events = [e for e in self.events() if e.created_at < before]
        inboxes = self.inboxes()
        return sum(not all(e.event_id in inboxes[c] for c in self.consumers(e.type)) for e in events)

    def sent_envelopes(self, per_producer: int) -> list[tuple[str, str, int]]:
        """(event type, envelope JSON, consumers) of up to `per_producer` newest sent, consumed events per producer."""
        out: list[tuple[str, str, int]] = []
        for engine in self.engines.values():
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT event_type, envelope FROM outbox WHERE sent_at IS NOT NULL "
                                         "ORDER BY id DESC LIMIT :n"), {"n": per_producer * 4})
                mine = [(t, env, len(self.consumers(t))) for t, env in rows if self.consumers(t)]
            out += mine[:per_producer]
        return out

    def dispose(self) -> None:
        """Close every pool."""
        for engine in self.engines.values():
            engine.dispose()


def _applied(event: Event, effects: dict[str, Any]) -> int:
    """How many times an event's effect shows (1 for events whose effect is not additive)."""
    if event.type == "review.prescription.approved":
        wanted = sum(int(line["quantity"]) for line in event.data.get("lines", []))
        if wanted == 0:
            return 1
        got = effects["moved"].get(event.data["prescription_id"], 0)
        return round(got / wanted) if got % wanted == 0 else 99  # 99: an amount no number of applications makes
    if event.type == "procurement.shipment.ready":
        return int(effects["shipments"].get(event.data["shipment_id"], 0))
    return 1


_EFFECTS = ("review.prescription.approved", "procurement.shipment.ready")


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:

        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


# --- the bus --------------------------------------------------------------------------------------


def _channel(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.socket_timeout = 5
    params.connection_attempts = 1
    return pika.BlockingConnection(params)


def dead_letters(url: str) -> dict[str, int]:
    """Consumer -> messages in its dead-letter queue."""
    connection = _channel(url)
    try:
        ch = connection.channel()
        return {s.service: int(ch.queue_declare(s.dead_letter_queue, passive=True).method.message_count)
                for s in topology().values()}
    finally:
        connection.close()


def publish_again(url: str, envelopes: Iterable[tuple[str, str, int]]) -> int:
    """Publish already delivered events once more, as the relay does (by type, confirmed); deliveries due."""
    from shared.bus.topology import EVENTS_EXCHANGE

    due = 0
    connection = _channel(url)
    try:
        ch = connection.channel()
        ch.confirm_delivery()
        for event_type, envelope, consumers in envelopes:
            ch.basic_publish(EVENTS_EXCHANGE, event_type, envelope.encode(), pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=json.loads(envelope)["id"]), mandatory=True)
            due += consumers
    finally:
        connection.close()
    return due


POISON_KINDS = ("bad JSON", "unknown event type", "payload its schema rejects")


def inject_poison(url: str) -> dict[str, int]:
    """Publish each kind of poison onto every consuming service's queue (default exchange); queue -> count."""
    sent: dict[str, int] = {}
    connection = _channel(url)
    try:
        ch = connection.channel()
        ch.confirm_delivery()
        for spec in topology().values():
            for kind in POISON_KINDS:
                ch.basic_publish("", spec.queue, _poison(kind, spec.bindings[0]), pika.BasicProperties(
                    content_type="application/json", delivery_mode=2, message_id=f"poison-{uuid.uuid4()}"),
                    mandatory=True)
                sent[spec.service] = sent.get(spec.service, 0) + 1
    finally:
        connection.close()
    return sent


def _poison(kind: str, handled_type: str) -> bytes:
    """A message that can never be handled: not JSON, a type nobody knows, or a payload its contract refuses."""
    envelope = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/soak/poison", "time": "2026-12-06T10:00:00Z",
                "datacontenttype": "application/json"}
    if kind == "bad JSON":
        return b'{"specversion": "1.0", "id": '
    if kind == "unknown event type":
        return json.dumps({**envelope, "type": "soak.nothing.happened", "data": {"x": 1}}).encode()
    return json.dumps({**envelope, "type": handled_type, "data": {"soak": "not this payload"}}).encode()


# --- the consumers' logs ----------------------------------------------------------------------------

_SKIPPED = re.compile(r'"duplicates?[^"]*skipped[^"]*".*?"count":\s*(\d+)')


def inbox_hits(logs: Iterable[Path]) -> int:
    """Duplicates the consumers' inboxes suppressed, from their log lines (shared/bus/inbox.py)."""
    hits = 0
    for path in logs:
        try:
            body = path.read_text(errors="replace")
        except OSError:
            continue
        hits += sum(int(m.group(1)) for m in _SKIPPED.finditer(body))
    return hits
