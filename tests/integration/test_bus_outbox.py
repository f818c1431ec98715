"""The transactional outbox on PostgreSQL and RabbitMQ: nothing for rolled-back changes, committed events once, in order."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import insert

from shared.bus.outbox import pending_count, relay_batch
from shared.bus.publisher import EventPublisher
from shared.db import unit_of_work
from shared.events.contracts import ContractError

if TYPE_CHECKING:
    from tests.support.bus import Broker, BusService

pytestmark = pytest.mark.integration

RETIRED = "formulary.item.retired"


class Boom(Exception):
    """Raised inside a unit of work to roll it back."""


def test_rolled_back_event_is_never_published(
    service: BusService, broker: Broker, publisher: EventPublisher
) -> None:
    with pytest.raises(Boom), unit_of_work(service.ctx.factory) as session:
        session.execute(insert(service.notes).values(text="doomed"))
        service.ctx.record(
            session, RETIRED, {"code": "X1", "version": 1, "catalogue_version": 1, "reason": None}
        )
        raise Boom

    # The relay declares the topology and publishes with confirms: once it returns, the queue is final.
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 0
    assert service.note_texts() == []
    assert service.outbox_rows() == []
    assert broker.depth(service.queues.queue) == 0

    # The same path with a commit does publish: the check above could have failed.
    service.record("X2")
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 1
    assert [m.json()["data"]["code"] for m in broker.take_all(service.queues.queue)] == ["X2"]


def test_committed_event_is_published_once_and_marked_sent(
    service: BusService, broker: Broker, publisher: EventPublisher
) -> None:
    (event,) = service.record("A1")
    with service.ctx.factory() as session:
        assert pending_count(session, service.metadata) == 1

    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 1
    assert relay_batch(service.ctx.factory, service.metadata, publisher.send) == 0

    (row,) = service.outbox_rows()
    assert row.event_id == event.id and row.sent_at is not None and row.attempts == 0
    with service.ctx.factory() as session:
        assert pending_count(session, service.metadata) == 0

    messages = broker.take_all(service.queues.queue)
    assert len(messages) == 1
    body = messages[0].json()
    assert messages[0].message_id == event.id
    assert body["id"] == event.id and body["type"] == RETIRED and body["specversion"] == "1.0"
    assert body["source"] == "/countyhub/dispatch"
    assert body["data"] == {"code": "A1", "version": 1, "catalogue_version": 1, "reason": "withdrawn"}
    # formulary.# is bound by the other consumers too: each gets its own copy.
    assert broker.depth("procurement.events") == 1
    assert broker.depth("prescription_review.events") == 1


def test_publish_order_is_kept(service: BusService, broker: Broker, publisher: EventPublisher) -> None:
    codes = [f"O{i:02d}" for i in range(25)]
    ids = [e.id for e in service.record(*codes[:10])]
    for code in codes[10:]:
        ids += [e.id for e in service.record(code)]

    # Small batches: order must hold across batches as well as within one.
    total = 0
    while sent := relay_batch(service.ctx.factory, service.metadata, publisher.send, batch_size=7):
        total += sent
    assert total == len(codes)

    messages = broker.take_all(service.queues.queue)
    assert [m.json()["id"] for m in messages] == ids
    assert [m.json()["data"]["code"] for m in messages] == codes


def test_concurrent_relays_never_publish_a_row_twice(service: BusService, broker: Broker) -> None:
    n = 240
    for start in range(0, n, 40):
        service.record(*(f"C{i:03d}" for i in range(start, start + 40)))

    relays = 4
    barrier = threading.Barrier(relays)
    sent_by: list[Counter[str]] = [Counter() for _ in range(relays)]
    errors: list[BaseException] = []

    def relay(index: int) -> None:
        pub = EventPublisher(broker.url)

        def send(envelope: dict[str, Any]) -> None:
            pub.send(envelope)
            sent_by[index][envelope["id"]] += 1

        try:
            pub._ensure()  # connect before the race so all relays really overlap
            barrier.wait(10)
            idle = 0
            while idle < 3:
                idle = (
                    idle + 1
                    if relay_batch(service.ctx.factory, service.metadata, send, batch_size=10) == 0
                    else 0
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            pub.close()

    threads = [threading.Thread(target=relay, args=(i,)) for i in range(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    total: Counter[str] = Counter()
    for counts in sent_by:
        total.update(counts)
    assert len(total) == n
    assert max(total.values()) == 1, "a row was published by two relays"
    assert sum(1 for counts in sent_by if counts) >= 2, "the relays did not actually run side by side"

    rows = service.outbox_rows()
    assert all(row.sent_at is not None for row in rows)
    messages = broker.take_all(service.queues.queue)
    assert len(messages) == n
    assert len({m.json()["id"] for m in messages}) == n


def test_contract_violation_raises_and_writes_nothing(service: BusService, broker: Broker) -> None:
    bad_payloads: list[dict[str, Any]] = [
        {"code": "B1", "version": 1},  # catalogue_version missing
        {"code": "B1", "version": 1, "catalogue_version": 1, "colour": "red"},  # unannounced field
        {"code": "B1", "version": "one", "catalogue_version": 1},  # wrong type
    ]
    for data in bad_payloads:
        with pytest.raises(ContractError), unit_of_work(service.ctx.factory) as session:
            session.execute(insert(service.notes).values(text="with bad event"))
            service.ctx.record(session, RETIRED, data)
    with pytest.raises(ContractError), unit_of_work(service.ctx.factory) as session:
        service.ctx.record(session, "formulary.item.invented", {"code": "B1"})

    assert service.note_texts() == []
    assert service.outbox_rows() == []
