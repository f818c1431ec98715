"""Poison messages end in the dead-letter queue after bounded retries, the consumer keeps going, and they can be replayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from shared.bus.consumer import RETRY_HEADER
from shared.bus.publisher import EventPublisher
from shared.bus.rabbit_admin import list_dead_letters, queue_depths, replay_dead_letters
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
        {"code": code, "version": 1, "catalogue_version": 1, "reason": None},
        source="/countyhub/formulary",
    )


def test_poison_messages_are_dead_lettered_and_the_consumer_goes_on(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    queues = service.queues
    poison, good, later = _event("P1"), _event("G1"), _event("G2")
    service.fail_codes["P1"] = -1  # always raises

    with run_consumer(service.consumer(max_retries=2, backoff_base=0.05)) as consumer:
        broker.publish_raw(RETIRED, b'{"specversion": "1.0", "id": ', message_id="junk-1")  # not JSON
        publisher.send(poison.to_dict())
        publisher.send(good.to_dict())
        wait(
            lambda: broker.depth(queues.dead_letter_queue) == 2, timeout=20, what="both poison messages dead"
        )
        publisher.send(later.to_dict())  # sent after the dead-lettering
        wait(lambda: {"G1", "G2"} <= set(service.note_texts()), timeout=10, what="good events applied")
        assert consumer.dead_lettered == 2

    assert service.calls["P1"] == 3  # the first attempt and max_retries=2 retries, no more
    assert service.note_texts() == ["G1", "G2"]  # every failed attempt rolled back its note
    assert {r.event_id for r in service.inbox_rows()} == {good.id, later.id}
    assert broker.depth(queues.queue) == 0
    assert broker.depth(queues.retry_queue) == 0

    # What lies in the DLQ, read with pika: the reason and the retry count travel as headers.
    with broker.channel() as ch:
        dead: dict[str, dict[str, Any]] = {}
        tags = []
        for _ in range(2):
            method, props, body = ch.basic_get(queues.dead_letter_queue, auto_ack=False)
            assert method is not None
            tags.append(method.delivery_tag)
            dead[props.message_id or body.decode()] = dict(props.headers or {})
        for tag in tags:
            ch.basic_nack(tag, requeue=True)
    assert set(dead) == {"junk-1", poison.id}
    assert dead["junk-1"]["x-dead-letter-reason"].startswith("invalid envelope: not JSON")
    assert dead[poison.id]["x-dead-letter-reason"] == "RuntimeError: handler refuses P1"
    assert dead[poison.id][RETRY_HEADER] == 2
    assert {h["x-original-queue"] for h in dead.values()} == {queues.queue}

    # The operator's view: listing peeks without removing anything.
    listed = list_dead_letters(broker.url, "dispatch")
    assert {(d.event_id, d.event_type) for d in listed} == {(None, None), (poison.id, RETIRED)}
    reasons = {d.event_id: d.reason for d in listed}
    assert reasons[poison.id] == "RuntimeError: handler refuses P1"
    junk_reason = reasons[None]
    assert junk_reason is not None and junk_reason.startswith("invalid envelope")
    assert broker.depth(queues.dead_letter_queue) == 2

    # Replay moves both back onto the service queue with a fresh retry count.
    assert replay_dead_letters(broker.url, "dispatch") == 2
    depths = queue_depths(broker.url)
    assert depths[queues.dead_letter_queue] == 0
    assert depths[queues.queue] == 2
    with broker.channel() as ch:
        tags, ids = [], set()
        for _ in range(2):
            method, props, _ = ch.basic_get(queues.queue, auto_ack=False)
            assert method is not None
            tags.append(method.delivery_tag)
            ids.add(props.message_id)
            bus_headers = {RETRY_HEADER, "x-dead-letter-reason", "x-original-queue"}
            assert not bus_headers & set(props.headers or {}), props.headers
        assert ids == {"junk-1", poison.id}
        for tag in tags:
            ch.basic_nack(tag, requeue=True)

    # With the handler fixed, the replayed event is applied; the junk goes back to the DLQ.
    service.fail_codes["P1"] = 0
    with run_consumer(service.consumer(max_retries=2, backoff_base=0.05)):
        wait(lambda: "P1" in service.note_texts(), timeout=15, what="replayed event applied")
        wait(lambda: broker.depth(queues.dead_letter_queue) == 1, timeout=10, what="junk dead again")
    assert service.note_texts() == ["G1", "G2", "P1"]
    assert [d.event_id for d in list_dead_letters(broker.url, "dispatch")] == [None]
