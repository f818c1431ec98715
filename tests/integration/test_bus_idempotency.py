"""At-least-once delivery made harmless: the inbox applies each event once, and only when its handler commits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from kombu import Message

from shared.bus.outbox import relay_batch
from shared.bus.publisher import EventPublisher
from shared.events.envelope import CloudEvent, new_event

if TYPE_CHECKING:
    from tests.support.bus import Broker, BusService

pytestmark = pytest.mark.integration

RETIRED = "formulary.item.retired"
Wait = Callable[..., Any]
Run = Callable[..., Any]


def _event(code: str) -> CloudEvent:
    return new_event(
        RETIRED,
        {"code": code, "version": 3, "catalogue_version": 7, "reason": None},
        source="/countyhub/formulary",
    )


def test_redelivered_event_changes_nothing_twice(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    event = _event("I1")
    publisher.send(event.to_dict())
    publisher.send(event.to_dict())  # a producer that re-sends after a lost confirm

    # Take the first copy and give it back: RabbitMQ redelivers it with the redelivered flag.
    with broker.channel() as ch:
        method, _, body = ch.basic_get(service.queues.queue, auto_ack=False)
        assert method is not None and CloudEvent.from_dict(body).id == event.id
        ch.basic_nack(method.delivery_tag, requeue=True)
    assert broker.depth(service.queues.queue) == 2

    results: list[bool] = []
    redelivered: list[bool] = []

    def handle(ev: CloudEvent) -> None:
        results.append(service.handle(ev))

    consumer = service.consumer(handle)
    on_message = consumer.on_message

    def spy(message: Message) -> None:
        redelivered.append(bool(message.delivery_info.get("redelivered")))
        on_message(message)

    consumer.on_message = spy  # type: ignore[method-assign]
    with run_consumer(consumer):
        wait(lambda: len(results) == 2, timeout=15, what="both copies handled")
        wait(lambda: broker.depth(service.queues.queue) == 0, timeout=5, what="queue drained")

    assert sorted(redelivered) == [False, True], "the test did not force a real redelivery"
    assert sorted(results) == [False, True]
    assert service.calls["I1"] == 1
    assert service.note_texts() == ["I1"]
    (inbox,) = service.inbox_rows()
    assert (inbox.consumer, inbox.event_id, inbox.event_type) == ("dispatch", event.id, RETIRED)
    assert broker.depth(service.queues.retry_queue) == 0
    assert broker.depth(service.queues.dead_letter_queue) == 0


def test_concurrent_duplicates_on_two_consumers_apply_once(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    event = _event("S1")
    service.delays["S1"] = 0.5  # the first handler holds its transaction open while the second arrives
    spans: list[tuple[float, float, bool]] = []

    def handle(ev: CloudEvent) -> None:
        start = time.monotonic()
        applied = service.handle(ev)
        spans.append((start, time.monotonic(), applied))

    with (
        run_consumer(service.consumer(handle, prefetch=1)) as first,
        run_consumer(service.consumer(handle, prefetch=1)) as second,
    ):
        # Both consumers must be attached before publishing, so each gets one copy.
        wait(lambda: _consumer_count(broker, service.queues.queue) == 2, timeout=15, what="two consumers")
        publisher.send(event.to_dict())
        publisher.send(event.to_dict())
        wait(lambda: first.processed + second.processed == 2, timeout=15, what="both copies handled")
        assert first.processed == 1 and second.processed == 1

    (a_start, a_end, _), (b_start, b_end, _) = sorted(spans)
    assert b_start < a_end, "the two deliveries were not handled concurrently"
    # The duplicate waited on the inbox key until the first committed, then saw the conflict.
    assert sorted(applied for _, _, applied in spans) == [False, True]
    assert service.calls["S1"] == 1
    assert service.note_texts() == ["S1"]
    assert len(service.inbox_rows()) == 1


def test_failed_handler_rolls_back_its_inbox_row_so_the_retry_applies_it(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    service.fail_codes["F1"] = 1  # the first attempt inserts its note, then raises
    (event,) = service.record("F1")
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 1

    with run_consumer(service.consumer()) as consumer:
        wait(lambda: "F1" in service.note_texts(), timeout=15, what="the retry applied")
        wait(lambda: consumer.processed == 1, timeout=5, what="the retry acked")

    assert service.calls["F1"] == 2
    assert service.note_texts() == ["local:F1", "F1"]  # the failed attempt's note was rolled back
    (inbox,) = service.inbox_rows()
    assert inbox.event_id == event.id
    assert consumer.dead_lettered == 0
    assert broker.depth(service.queues.queue) == 0
    assert broker.depth(service.queues.retry_queue) == 0
    assert broker.depth(service.queues.dead_letter_queue) == 0


def _consumer_count(broker: Broker, queue: str) -> int:
    with broker.channel() as ch:
        return int(ch.queue_declare(queue, passive=True).method.consumer_count)
