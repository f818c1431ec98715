"""The pika admin against a real RabbitMQ vhost: topology, agreement with kombu's declarations, depths, delivery limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import amqp.exceptions
import pytest
from kombu import Connection

from shared.bus.publisher import EventPublisher, declare_all, open_connection
from shared.bus.rabbit_admin import broker_reachable, declare_topology, queue_depths
from shared.bus.topology import DEAD_LETTER_EXCHANGE, DELIVERY_LIMIT, EVENTS_EXCHANGE, TOPOLOGY
from shared.events.envelope import new_event

if TYPE_CHECKING:
    from tests.support.bus import Broker

pytestmark = pytest.mark.integration

RETIRED = "formulary.item.retired"


def _envelope(code: str) -> dict[str, object]:
    data = {"code": code, "version": 1, "catalogue_version": 1, "reason": None}
    return new_event(RETIRED, data, source="/countyhub/formulary").to_dict()


def _all_queue_names() -> set[str]:
    return {name for s in TOPOLOGY.values() for name in (s.queue, s.retry_queue, s.dead_letter_queue)}


def test_declare_topology_creates_quorum_queues_with_a_delivery_limit(broker: Broker) -> None:
    assert broker.list_queues() == {}
    declared = declare_topology(broker.url)
    assert f"exchange {EVENTS_EXCHANGE}" in declared and f"exchange {DEAD_LETTER_EXCHANGE}" in declared
    assert {d.removeprefix("queue ") for d in declared if d.startswith("queue ")} == _all_queue_names()

    queues = broker.list_queues()
    assert set(queues) == _all_queue_names()
    for spec in TOPOLOGY.values():
        main, retry, dead = queues[spec.queue], queues[spec.retry_queue], queues[spec.dead_letter_queue]
        assert main["type"] == "quorum", spec.queue
        assert main["arguments"] == {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.dead_letter_queue,
        }
        assert retry["type"] == "classic"
        assert retry["arguments"] == {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": spec.queue}
        assert dead["type"] == "quorum"

    bindings = broker.list_bindings()
    for spec in TOPOLOGY.values():
        assert {key for src, dst, key in bindings if src == EVENTS_EXCHANGE and dst == spec.queue} == set(
            spec.bindings
        )
        assert (DEAD_LETTER_EXCHANGE, spec.dead_letter_queue, spec.dead_letter_queue) in bindings

    # Idempotent: a second run (the deployment Job re-running) changes nothing and keeps messages.
    with broker.channel() as ch:
        ch.confirm_delivery()
        ch.basic_publish(EVENTS_EXCHANGE, RETIRED, b"{}")
    assert declare_topology(broker.url) == declared
    assert broker.depth("dispatch.events") == 1
    assert broker.list_queues()["dispatch.events"]["arguments"] == queues["dispatch.events"]["arguments"]
    assert broker_reachable(broker.url)
    assert not broker_reachable("amqp://guest:guest@127.0.0.1:5672/countyhub_it_no_such_vhost")


def test_kombu_declarations_agree_with_pika(broker: Broker) -> None:
    declare_topology(broker.url)
    # The publisher and the consumers declare the same queues through kombu: same arguments, no clash.
    with open_connection(broker.url) as conn:
        declare_all(conn.default_channel, quorum=True)
        declare_all(conn.default_channel, quorum=True)
    publisher = EventPublisher(broker.url)
    try:
        publisher.send(_envelope("K1"))
    finally:
        publisher.close()
    assert broker.depth("dispatch.events") == 1

    # The check has teeth: classic-queue arguments on the same names are refused by the broker.
    with open_connection(broker.url) as conn, pytest.raises(amqp.exceptions.PreconditionFailed):
        declare_all(conn.default_channel, quorum=False)

    # And the other way round: kombu first (a service starting before the Job ran), then pika.
    broker.reset()
    with Connection(broker.url) as conn:
        declare_all(conn.default_channel, quorum=True)
    declare_topology(broker.url)
    assert {q["type"] for name, q in broker.list_queues().items() if name.endswith(".events")} == {"quorum"}


def test_queue_depths_reports_ready_messages(broker: Broker) -> None:
    declare_topology(broker.url)
    assert queue_depths(broker.url) == dict.fromkeys(_all_queue_names(), 0)

    publisher = EventPublisher(broker.url)
    try:
        for i in range(3):
            publisher.send(_envelope(f"Q{i}"))
    finally:
        publisher.close()

    depths = queue_depths(broker.url)
    # formulary.# reaches all three services' queues; nothing else holds messages.
    expected = dict.fromkeys(_all_queue_names(), 0) | {f"{s}.events": 3 for s in TOPOLOGY}
    assert depths == expected

    # Only ready messages count: one taken and not yet acked is not in the depth.
    with broker.channel() as ch:
        method, _, _ = ch.basic_get("dispatch.events", auto_ack=False)
        assert method is not None
        assert queue_depths(broker.url)["dispatch.events"] == 2
        ch.basic_ack(method.delivery_tag)
    assert queue_depths(broker.url)["dispatch.events"] == 2


def test_delivery_limit_dead_letters_a_message_that_keeps_coming_back(broker: Broker) -> None:
    declare_topology(broker.url)
    with broker.channel() as ch:
        ch.confirm_delivery()
        ch.basic_publish(EVENTS_EXCHANGE, RETIRED, b'{"crash": "me"}')
        deliveries = 0
        # A consumer that dies before acking: the broker redelivers, counting, up to the limit.
        while deliveries <= DELIVERY_LIMIT + 5:
            method, _, _ = ch.basic_get("dispatch.events", auto_ack=False)
            if method is None:
                break
            deliveries += 1
            ch.basic_nack(method.delivery_tag, requeue=True)
    assert deliveries == DELIVERY_LIMIT + 1
    assert broker.depth("dispatch.events") == 0
    assert [m.body for m in broker.take_all("dispatch.dlq")] == [b'{"crash": "me"}']
