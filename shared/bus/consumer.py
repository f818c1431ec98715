"""Consuming with kombu: manual acks, bounded prefetch, retries with back-off, then dead-lettering."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from kombu import Connection, Consumer, Message, Producer
from kombu.mixins import ConsumerMixin

from shared.bus.inbox import PoisonMessage
from shared.bus.publisher import dead_letter_exchange, declare_all, is_amqp, open_connection, service_queues
from shared.bus.topology import ServiceQueues
from shared.events.envelope import CloudEvent, EnvelopeError

log = logging.getLogger(__name__)

RETRY_HEADER = "x-retry-count"


def backoff_seconds(attempt: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential back-off for the attempt-th retry (1-based)."""
    return float(min(cap, base * (2 ** (attempt - 1))))


class EventConsumer(ConsumerMixin):
    """Runs handle(event) for each message of one service queue.

    A message is acked only after its handler has committed, or after it has been handed on
    (to the retry queue or the dead-letter queue) with a confirmed publish, so nothing is lost;
    a crash in between redelivers it and the inbox makes that harmless.
    """

    def __init__(
        self,
        url: str,
        spec: ServiceQueues,
        handle: Callable[[CloudEvent], Any],
        *,
        prefetch: int = 20,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        quorum: bool | None = None,
    ) -> None:
        self.url = url
        self.spec = spec
        self.handle = handle
        self.prefetch = prefetch
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.quorum = is_amqp(url) if quorum is None else quorum
        self.connection = open_connection(url, heartbeat=30)
        self._side: Connection | None = None
        self.processed = 0
        self.dead_lettered = 0

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Consumer]:
        """One consumer on the service queue with a bounded prefetch and manual acks."""
        declare_all(channel, self.quorum)  # the live channel: after a reconnect the old one is gone
        main = service_queues(self.spec, self.quorum)[0]
        return [consumer_cls(queues=[main], on_message=self.on_message, prefetch_count=self.prefetch)]

    def _side_producer(self) -> Producer:
        # Retries and dead letters go out on their own connection: waiting for a confirm on the
        # consuming connection would dispatch further deliveries into this same callback.
        if self._side is None:
            self._side = open_connection(self.url)
        return Producer(self._side.default_channel)

    def on_message(self, message: Message) -> None:
        """Handle, retry later, or dead-letter one message; always ends with an ack."""
        try:
            event = CloudEvent.from_dict(message.body)
        except EnvelopeError as exc:
            self._dead_letter(message, f"invalid envelope: {exc}")
            message.ack()
            return
        try:
            self.handle(event)
        except PoisonMessage as exc:
            self._dead_letter(message, str(exc))
            message.ack()
            return
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
            attempt = int((message.headers or {}).get(RETRY_HEADER, 0)) + 1
            log.warning(
                "event handler failed",
                extra={"event_id": event.id, "event_type": event.type, "attempt": attempt, "error": str(exc)},
            )
            if attempt > self.max_retries:
                self._dead_letter(message, f"{type(exc).__name__}: {exc}")
            else:
                self._retry(message, attempt)
            message.ack()
            return
        self.processed += 1
        message.ack()

    def _publish_copy(self, message: Message, *, exchange: Any, routing_key: str, **extra: Any) -> None:
        headers = dict(message.headers or {})
        headers.update(extra.pop("headers", {}))
        self._side_producer().publish(
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            content_type=message.content_type or "application/json",
            content_encoding=message.content_encoding or "utf-8",
            delivery_mode=2,
            headers=headers,
            # Keep the event id on the copy: operators and replay_dead_letters go by message_id.
            message_id=(message.properties or {}).get("message_id"),
            retry=True,
            retry_policy={"max_retries": 3},
            **extra,
        )

    def _retry(self, message: Message, attempt: int) -> None:
        delay = backoff_seconds(attempt, self.backoff_base)
        headers = {RETRY_HEADER: attempt}
        if is_amqp(self.url):
            # The retry queue holds the copy for `delay` and dead-letters it back to our queue.
            self._publish_copy(
                message, exchange="", routing_key=self.spec.retry_queue, headers=headers, expiration=delay
            )
        else:
            # Embedded transports have no TTL: wait here, then requeue directly.
            time.sleep(delay)
            self._publish_copy(message, exchange="", routing_key=self.spec.queue, headers=headers)

    def _dead_letter(self, message: Message, reason: str) -> None:
        self.dead_lettered += 1
        log.error("event dead-lettered", extra={"queue": self.spec.queue, "reason": reason})
        self._publish_copy(
            message,
            exchange=dead_letter_exchange,
            routing_key=self.spec.dead_letter_queue,
            headers={"x-dead-letter-reason": reason[:1000], "x-original-queue": self.spec.queue},
        )

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        """Log and keep trying: the broker coming back is the normal case."""
        log.warning("broker connection lost; retrying", extra={"in_s": interval, "error": str(exc)})

    def close(self) -> None:
        """Stop consuming and release connections."""
        self.should_stop = True
        for conn in (self._side, self.connection):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.release()
