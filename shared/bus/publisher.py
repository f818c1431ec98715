"""Publishing through kombu with publisher confirms and mandatory routing."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from kombu import Connection, Exchange, Producer, Queue, binding

from shared.bus.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, ServiceQueues, consumers_of, topology

log = logging.getLogger(__name__)

events_exchange = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
dead_letter_exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


class UnroutableError(RuntimeError):
    """The broker returned a mandatory message: no queue is bound for its type."""


def is_amqp(url: str) -> bool:
    """True for a real AMQP broker URL (publisher confirms, TTLs and dead-lettering available)."""
    return url.startswith(("amqp://", "amqps://", "pyamqp://"))


def open_connection(url: str, heartbeat: int = 0) -> Connection:
    """A kombu connection; on AMQP every publish waits for the broker's confirm.

    Consumers ask for heartbeats (kombu's consume loop sends them while it waits) so a half-open
    connection is noticed; the relay's publisher does not, since it reconnects on any failed send.
    """
    options: dict[str, Any] = {}
    if is_amqp(url):
        options["confirm_publish"] = True
    return Connection(url, transport_options=options, heartbeat=heartbeat, connect_timeout=5)


def service_queues(spec: ServiceQueues, quorum: bool) -> list[Queue]:
    """kombu Queue objects for one service, declared with the same arguments pika uses."""
    main = Queue(
        spec.queue,
        bindings=[binding(events_exchange, routing_key=key) for key in spec.bindings],
        durable=True,
        queue_arguments=spec.queue_arguments(quorum),
    )
    retry = Queue(spec.retry_queue, durable=True, queue_arguments=spec.retry_arguments())
    dead = Queue(
        spec.dead_letter_queue,
        exchange=dead_letter_exchange,
        routing_key=spec.dead_letter_queue,
        durable=True,
        queue_arguments=spec.dead_letter_arguments(quorum),
    )
    return [main, retry, dead]


def declare_all(channel: Any, quorum: bool) -> None:
    """Declare exchanges, queues and bindings for every service.

    On the embedded transports a message published before its queue is bound is dropped, so the
    publisher declares the whole topology before its first publish.
    """
    events_exchange(channel).declare()
    dead_letter_exchange(channel).declare()
    for spec in topology().values():
        for queue in service_queues(spec, quorum):
            queue(channel).declare()


class EventPublisher:
    """The outbox relay's send(): one envelope, confirmed by the broker or an exception."""

    def __init__(self, url: str, *, quorum: bool | None = None) -> None:
        self.url = url
        self.quorum = is_amqp(url) if quorum is None else quorum
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._returned: list[str] = []
        self._lock = threading.Lock()
        self._topology: dict[str, ServiceQueues] | None = None
        # send_many's own connection: a confirm channel whose acks are awaited per batch.
        self._batch_connection: Connection | None = None
        self._batch_channel: Any = None
        self._batch_tag = self._confirmed_upto = 0
        self._nacked: set[int] = set()
        self._returned_ids: set[str] = set()

    def _ensure(self) -> Producer:
        if self._producer is None:
            connection = open_connection(self.url)
            connection.ensure_connection(max_retries=1)
            declare_all(connection.default_channel, self.quorum)
            self._connection = connection
            self._producer = Producer(connection.channel(), on_return=self._on_return)
        return self._producer

    def _on_return(self, exception: Any, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(routing_key)

    def _wanted(self, event_type: str) -> bool:
        if self._topology is None:
            self._topology = topology()
        return bool(consumers_of(event_type, self._topology))

    def send(self, envelope: dict[str, Any]) -> None:
        """Publish one event, routed by its type; raises if the broker does not take it.

        An event type no registered service handles is not published (there is no queue for it,
        and `mandatory` would bounce it for ever); the relay counts it as handed over.
        """
        if not self._wanted(envelope["type"]):
            log.debug("no service handles %s; not published", envelope["type"])
            return
        with self._lock:
            try:
                producer = self._ensure()
                self._returned.clear()
                producer.publish(
                    json.dumps(envelope, ensure_ascii=False),
                    exchange=events_exchange,
                    routing_key=envelope["type"],
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    mandatory=True,
                    message_id=envelope["id"],
                    headers={"correlation_id": envelope.get("correlationid") or envelope["id"]},
                    retry=False,
                )
                if self._returned:
                    raise UnroutableError(f"no queue bound for {envelope['type']}")
            except UnroutableError:
                raise
            except Exception:
                self.close()
                raise

    def send_many(self, envelopes: Sequence[dict[str, Any]], confirm_timeout: float = 30.0) -> int:
        """Publish several events, then wait for the broker's confirms together; how many LEADING ones it took.

        Publisher confirms are asynchronous on the wire: instead of a round trip per message (as
        `send`), the whole batch is published and the acks (often one "multiple" ack) are awaited
        once. A message the broker nacks or returns (no queue bound) ends the count there, so the
        relay marks only an unbroken prefix sent and order holds. Raises if the broker cannot be
        reached or does not answer within confirm_timeout seconds (nothing counts as taken).
        """
        with self._lock:
            try:
                return self._send_many(envelopes, confirm_timeout)
            except Exception:
                self.close()
                raise

    def _send_many(self, envelopes: Sequence[dict[str, Any]], confirm_timeout: float) -> int:
        channel = self._ensure_batch_channel()
        tags: dict[int, str] = {}  # delivery tag -> event id
        for envelope in envelopes:
            if not self._wanted(envelope["type"]):
                continue
            self._batch_tag += 1
            tags[self._batch_tag] = envelope["id"]
            channel.basic_publish(
                channel.prepare_message(  # kombu's pyamqp channel builds the py-amqp message
                    json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers={"correlation_id": envelope.get("correlationid") or envelope["id"]},
                    properties={"delivery_mode": 2, "message_id": envelope["id"]},
                ),
                exchange=EVENTS_EXCHANGE,
                routing_key=envelope["type"],
                mandatory=True,
            )
        deadline = time.monotonic() + confirm_timeout
        last = self._batch_tag
        while tags and self._confirmed_upto < last:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the broker confirmed {self._confirmed_upto} of {last} publishes")
            channel.connection.drain_events(timeout=remaining)
        taken = 0
        nacked = {tags[t] for t in self._nacked if t in tags}
        for envelope in envelopes:
            if envelope["id"] in nacked or envelope["id"] in self._returned_ids:
                break
            taken += 1
        self._nacked.clear()
        self._returned_ids.clear()
        return taken

    def _ensure_batch_channel(self) -> Any:
        if self._batch_channel is None:
            connection = Connection(self.url, heartbeat=0, connect_timeout=5)  # no per-publish confirm wait
            connection.ensure_connection(max_retries=1)
            channel = connection.channel()
            declare_all(channel, self.quorum)
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_batch_return)
            self._batch_connection, self._batch_channel = connection, channel
            self._batch_tag = self._confirmed_upto = 0
        return self._batch_channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._confirmed_upto = max(self._confirmed_upto, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        first = self._confirmed_upto + 1 if multiple else delivery_tag
        self._nacked.update(range(first, delivery_tag + 1))
        self._confirmed_upto = max(self._confirmed_upto, delivery_tag)

    def _on_batch_return(self, exception: Any, exchange: str, routing_key: str, message: Any) -> None:
        self._returned_ids.add(str(message.properties.get("message_id")))

    def close(self) -> None:
        """Drop the connections; the next send reconnects."""
        batch, self._batch_connection, self._batch_channel = self._batch_connection, None, None
        if batch is not None:
            try:
                batch.release()
            except Exception:  # noqa: BLE001 - a dead connection cannot be closed cleanly
                log.debug("closing a broken broker connection failed", exc_info=True)
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - a dead connection cannot be closed cleanly
                log.debug("closing a broken broker connection failed", exc_info=True)
