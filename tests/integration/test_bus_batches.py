"""Batched consumption on the real RabbitMQ and PostgreSQL: one transaction per batch, acks after
the commit, a failing or poison message isolated so the others apply exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from shared.bus.outbox import relay_batch
from shared.bus.publisher import EventPublisher
from shared.events.envelope import CloudEvent

if TYPE_CHECKING:
    from tests.support.bus import Broker, BusService

pytestmark = pytest.mark.integration

RETIRED = "formulary.item.retired"
Wait = Callable[..., Any]
Run = Callable[..., Any]


def _dead_letters(broker: Broker, queue: str) -> dict[str, str]:
    """event id -> dead-letter reason, read off the DLQ with pika."""
    return {
        json.loads(d.body)["id"]: str(d.headers.get("x-dead-letter-reason"))
        for d in broker.take_all(queue)
    }


def test_a_batch_with_a_poison_and_a_failing_message_applies_the_others_exactly_once(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    queues = service.queues
    good = [f"G{i}" for i in range(8)]
    events = service.record(*good[:4], "F1", *good[4:])  # F1's handler always raises
    service.fail_codes["F1"] = -1
    # A payload its contract rejects ("version" is not an integer), sent by a foreign producer.
    poison = CloudEvent(type=RETIRED, source="/elsewhere", data={"code": "P1", "version": "two", "catalogue_version": 1})
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 9
    broker.publish_raw(RETIRED, poison.to_json().encode(), message_id=poison.id)
    assert broker.depth(queues.queue) == 10

    batches: list[int] = []

    def handle_many(batch: list[CloudEvent]) -> list[BaseException | None]:
        batches.append(len(batch))
        return service.handle_many(batch)

    with run_consumer(service.batch_consumer(handle_many, linger_s=0.5)):
        wait(lambda: broker.depth(queues.dead_letter_queue) == 2, timeout=30, what="poison and failing message dead-lettered")

    assert batches[0] == 10, batches  # all ten arrived in one batch
    notes = [t for t in service.note_texts() if not t.startswith("local:")]
    assert sorted(notes) == sorted(good)  # each good event applied exactly once; F1's attempts rolled back
    assert {r.event_id for r in service.inbox_rows()} == {e.id for e in events if e.data["code"] != "F1"}
    # The batch ran up to F1 and rolled back; then each ran alone: called twice or once, applied once.
    assert [service.calls[code] for code in good] == [2, 2, 2, 2, 1, 1, 1, 1]
    assert service.calls["P1"] == 0  # the poison never reached the handler
    assert service.calls["F1"] == 2 + 2  # batch + alone, then two retries alone (max_retries=2)
    dead = _dead_letters(broker, queues.dead_letter_queue)
    f1 = next(e.id for e in events if e.data["code"] == "F1")
    assert set(dead) == {poison.id, f1}
    assert "contract" in dead[poison.id] and "version" in dead[poison.id]
    assert "handler refuses F1" in dead[f1]
    assert broker.depth(queues.queue) == 0 and broker.depth(queues.retry_queue) == 0


class Crash(BaseException):
    """The process dies: raised after the batch committed, before any ack."""


def test_a_crash_between_commit_and_ack_changes_nothing_twice(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    queues = service.queues
    codes = [f"C{i}" for i in range(12)]
    events = service.record(*codes)
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 12
    committed = threading.Event()

    def commit_then_die(batch: list[CloudEvent]) -> list[BaseException | None]:
        service.handle_many(batch)  # the transaction commits ...
        committed.set()
        raise Crash  # ... and the process dies before acking anything

    doomed = service.batch_consumer(commit_then_die, linger_s=0.5)
    died: list[BaseException] = []

    def run() -> None:
        try:
            doomed.run()
        except Crash as exc:
            died.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert committed.wait(20)
    thread.join(10)
    doomed.close()  # its connection goes away with the process: the broker requeues the unacked messages
    assert died and service.note_texts().count("C0") == 1
    wait(lambda: broker.depth(queues.queue) == 12, timeout=20, what="the unacked batch back on the queue")

    redelivered: list[CloudEvent] = []

    def handle_many(batch: list[CloudEvent]) -> list[BaseException | None]:
        redelivered.extend(batch)
        return service.handle_many(batch)

    with run_consumer(service.batch_consumer(handle_many)):
        wait(lambda: broker.depth(queues.queue) == 0 and len(redelivered) == 12, timeout=20, what="redelivery acked")

    assert {e.id for e in redelivered} == {e.id for e in events}
    notes = [t for t in service.note_texts() if not t.startswith("local:")]
    assert sorted(notes) == sorted(codes)  # applied once, not twice
    assert all(service.calls[c] == 1 for c in codes)  # the redelivery hit the inbox, not the handler
    assert len(service.inbox_rows()) == 12
    assert broker.depth(queues.dead_letter_queue) == 0


STOCKLIST = "formulary.stocklist.changed"


def _stocklist(version: int) -> dict[str, Any]:
    return {"scope": "level", "level": "village", "site_code": None, "catalogue_version": version, "item_codes": ["YP1"]}


def test_the_relay_publishes_a_batch_and_awaits_its_confirms_together_in_order(
    service: BusService, broker: Broker, publisher: EventPublisher
) -> None:
    queues = service.queues
    events = service.record(*(f"R{i}" for i in range(25)))
    sent = [relay_batch(service.ctx.factory, service.metadata, publisher.send, 10, publisher.send_many) for _ in range(4)]
    assert sent == [10, 10, 5, 0]
    assert [d.message_id for d in broker.take_all(queues.queue)] == [e.id for e in events]
    assert all(r.sent_at is not None and r.attempts == 0 for r in service.outbox_rows())


def test_a_batch_stops_at_the_first_message_the_broker_returns_and_resends_from_there(
    service: BusService, broker: Broker, publisher: EventPublisher
) -> None:
    from shared.bus.topology import EVENTS_EXCHANGE, consumers_of
    from shared.db import unit_of_work

    queues = service.queues
    with unit_of_work(service.ctx.factory) as session:
        first = service.ctx.record(session, RETIRED, {"code": "A", "version": 1, "catalogue_version": 1, "reason": None})
        middle = service.ctx.record(session, STOCKLIST, _stocklist(1))
        last = service.ctx.record(session, RETIRED, {"code": "C", "version": 1, "catalogue_version": 1, "reason": None})
    assert publisher.send_many([]) == 0  # connects and declares the topology
    bound = [q for q in consumers_of(STOCKLIST)]
    with broker.channel() as ch:  # nobody is bound to the stocklist event any more: the broker returns it
        for name in bound:
            ch.queue_unbind(f"{name}.events", EVENTS_EXCHANGE, routing_key=STOCKLIST)
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send, 10, publisher.send_many) == 1
    rows = {r.event_id: r for r in service.outbox_rows()}
    assert rows[first.id].sent_at is not None
    assert rows[middle.id].sent_at is None and rows[middle.id].attempts == 1
    assert rows[last.id].sent_at is None  # order holds: it waits behind the returned one
    with broker.channel() as ch:
        for name in bound:
            ch.queue_bind(f"{name}.events", EVENTS_EXCHANGE, routing_key=STOCKLIST)
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send, 10, publisher.send_many) == 2
    ids = [d.message_id for d in broker.take_all(queues.queue)]
    assert ids[0] == first.id and ids[-2:] == [middle.id, last.id]  # C may also sit earlier: at least once
