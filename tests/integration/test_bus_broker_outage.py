"""A RabbitMQ outage loses nothing: the outbox holds events until the broker is back, consumers reconnect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from shared.bus.outbox import relay_batch
from shared.bus.publisher import EventPublisher
from shared.runtime import Background

if TYPE_CHECKING:
    from tests.support.bus import Broker, BrokerApp, BusService

pytestmark = pytest.mark.integration

Wait = Callable[..., Any]


def test_events_recorded_during_an_outage_are_delivered_afterwards(
    service: BusService, broker: Broker, broker_app: BrokerApp, wait: Wait
) -> None:
    broker_app.stop()
    try:
        events = service.record("D1", "D2", "D3")
        publisher = EventPublisher(broker.url)
        try:
            assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 0
            assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 0
        finally:
            publisher.close()
        rows = service.outbox_rows()
        assert [r.event_id for r in rows] == [e.id for e in events]
        assert all(r.sent_at is None for r in rows)
        # A failed send stops the batch at the first row, so order is kept: only it counts attempts.
        assert [r.attempts for r in rows] == [2, 0, 0]
        assert rows[0].last_error
    finally:
        broker_app.start()

    background = Background(service.spec, service.ctx).start(relay=True, consume=True, workers=False)
    try:
        wait(
            lambda: service.note_texts().count("D3") == 1, timeout=30, what="events applied after the outage"
        )
        wait(
            lambda: all(r.sent_at is not None for r in service.outbox_rows()),
            timeout=10,
            what="rows marked sent",
        )
    finally:
        background.shutdown()
    assert not any(t.is_alive() for t in background.threads)

    notes = service.note_texts()
    assert notes == ["local:D1", "local:D2", "local:D3", "D1", "D2", "D3"]
    assert sorted(r.event_id for r in service.inbox_rows()) == sorted(e.id for e in events)
    assert broker.depth(service.queues.queue) == 0
    assert broker.depth(service.queues.dead_letter_queue) == 0


def test_running_consumer_reconnects_after_the_broker_restarts(
    service: BusService,
    broker: Broker,
    broker_app: BrokerApp,
    wait: Wait,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    background = Background(service.spec, service.ctx).start(relay=True, consume=True, workers=False)
    try:
        service.record("R1")
        wait(lambda: "R1" in service.note_texts(), timeout=20, what="first event applied")

        broker_app.stop()
        try:
            wait(
                lambda: any(
                    "broker connection lost" in r.getMessage()
                    or "Connection to broker lost" in r.getMessage()
                    for r in caplog.records
                ),
                timeout=20,
                what="the consumer noticing the outage",
            )
            service.record("R2")  # recorded while the broker is away
        finally:
            broker_app.start()

        service.record("R3")
        wait(
            lambda: {"R2", "R3"} <= set(service.note_texts()), timeout=60, what="events applied after restart"
        )
    finally:
        background.shutdown()

    assert [t for t in service.note_texts() if not t.startswith("local:")] == ["R1", "R2", "R3"]
    assert len(service.inbox_rows()) == 3
