"""A consumer whose database is away waits for it: no retry is spent, nothing is dead-lettered.

bench.soak found it: PostgreSQL down for 20 s under load dead-lettered good events, because each
failed attempt (connection refused) counted against the message's retries (5, 15.5 s of back-off
in all). Here the real RabbitMQ consumer gets "connection refused" from its database more times
than it has retries; the event must still be applied exactly once, and nothing dead-lettered.
A handler's own error still ends in the dead-letter queue after its retries (the same run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from shared.bus.publisher import EventPublisher
from shared.events.envelope import CloudEvent, new_event

if TYPE_CHECKING:
    from tests.support.bus import Broker, BusService

pytestmark = pytest.mark.integration

RETIRED = "formulary.item.retired"
Wait = Callable[..., Any]
Run = Callable[..., Any]


def _event(code: str) -> CloudEvent:
    return new_event(RETIRED, {"code": code, "version": 1, "catalogue_version": 1, "reason": None},
                     source="/countyhub/formulary")


def test_a_database_outage_longer_than_the_retries_dead_letters_nothing(
    service: BusService, broker: Broker, publisher: EventPublisher, wait: Wait, run_consumer: Run
) -> None:
    refusals = {"left": 7}  # more than max_retries=2 (and than the default 5)
    outage_event, broken = _event("DB1"), _event("BAD1")
    service.fail_codes["BAD1"] = -1  # the handler itself always fails: still dead-lettered

    def handle(event: CloudEvent) -> Any:
        if event.id == outage_event.id and refusals["left"] > 0:
            refusals["left"] -= 1
            raise OperationalError("SELECT 1", {}, psycopg.OperationalError("connection failed: Connection refused"))
        return service.handle(event)

    with run_consumer(service.consumer(handle, max_retries=2, backoff_base=0.02)) as consumer:
        publisher.send(outage_event.to_dict())
        publisher.send(broken.to_dict())
        wait(lambda: "DB1" in service.note_texts(), timeout=30, what="the event applied once the database is back")
        wait(lambda: broker.depth(service.queues.dead_letter_queue) == 1, timeout=20, what="the broken event dead")
        assert consumer.dead_lettered == 1

    assert refusals["left"] == 0, "the consumer gave up before the database came back"
    assert service.note_texts() == ["DB1"]
    assert [r.event_id for r in service.inbox_rows()] == [outage_event.id]
    dead = broker.take_all(service.queues.dead_letter_queue)
    assert [d.message_id for d in dead] == [broken.id]
    assert broker.depth(service.queues.queue) == 0 and broker.depth(service.queues.retry_queue) == 0
