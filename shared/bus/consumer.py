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
from shared.clock import isoformat, utcnow
from shared.db import is_database_unavailable
from shared.events.contracts import CONTRACTS
from shared.events.envelope import CloudEvent, EnvelopeError
from shared.heartbeat import Heartbeat

log = logging.getLogger(__name__)

RETRY_HEADER = "x-retry-count"


def backoff_seconds(attempt: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential back-off for the attempt-th retry (1-based)."""
    return float(min(cap, base * (2 ** (attempt - 1))))


HandleMany = Callable[[list[CloudEvent]], list[BaseException | None]]
"""handle_many(events) -> per event: None when applied (or a duplicate), else what went wrong."""


class EventConsumer(ConsumerMixin):
    """Applies the messages of one service queue in batches.

    Messages are gathered up to `batch_size` (at most the prefetch), or until none has arrived
    for `linger_s`; then handle_many applies them (shared.runtime.handle_each: one transaction
    for the batch; if that fails, one by one so a failing message is isolated). Each message is
    acked only after its effects have committed, or after it has been handed on (to the retry
    queue or the dead-letter queue) with a confirmed publish, so nothing is lost; a crash in
    between redelivers it and the inbox makes that harmless. A poison message (bad envelope, an
    event type no contract names, payload its contract rejects) goes to the dead-letter queue at
    once, with headers x-dead-letter-reason, x-original-queue and x-dead-lettered-at (ISO 8601 UTC).

    `handle(event)` alone (one event at a time, raising on failure) is still accepted.
    """

    def __init__(
        self,
        url: str,
        spec: ServiceQueues,
        handle: Callable[[CloudEvent], Any] | None = None,
        *,
        handle_many: HandleMany | None = None,
        prefetch: int = 20,
        batch_size: int | None = None,
        linger_s: float = 0.02,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        quorum: bool | None = None,
    ) -> None:
        if handle is None and handle_many is None:
            raise ValueError("give handle or handle_many")
        self.url = url
        self.spec = spec
        self.handle_many: HandleMany = handle_many or _one_by_one(handle)  # type: ignore[arg-type]
        self.batch_size = max(1, min(batch_size or prefetch, prefetch))
        self.linger_s = linger_s
        self._pending: list[tuple[Message, CloudEvent]] = []
        self.prefetch = prefetch
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.quorum = is_amqp(url) if quorum is None else quorum
        self.connection = open_connection(url, heartbeat=30)
        self._side: Connection | None = None
        # Liveness (shared/heartbeat.py): beats on every consume iteration; a no-op without HEARTBEAT_FILE.
        self.heartbeat = Heartbeat.from_env("consumer").beat
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
        """Parse one message and queue it for the next batch; a bad envelope is dead-lettered at once."""
        try:
            event = CloudEvent.from_dict(message.body)
        except EnvelopeError as exc:
            self._dead_letter(message, f"invalid envelope: {exc}")
            message.ack()
            return
        if event.type not in CONTRACTS:  # no producer may send it: retrying cannot help
            self._dead_letter(message, f"unknown event type: {event.type}")
            message.ack()
            return
        self._pending.append((message, event))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Apply the gathered messages, then ack, retry or dead-letter each (after the commit)."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        outcomes = self.handle_many([event for _, event in batch])
        for (message, event), outcome in zip(batch, outcomes, strict=True):
            self._settle(message, event, outcome)

    def _settle(self, message: Message, event: CloudEvent, outcome: BaseException | None) -> None:
        if outcome is None:
            self.processed += 1
        elif isinstance(outcome, PoisonMessage):
            self._dead_letter(message, str(outcome))
        else:
            attempt = int((message.headers or {}).get(RETRY_HEADER, 0)) + 1
            log.warning(
                "event handler failed",
                extra={"event_id": event.id, "event_type": event.type, "attempt": attempt, "error": str(outcome)},
            )
            if is_database_unavailable(outcome):
                # Our database is down or restarting, no fault of the message: it waits in the retry
                # queue and comes back as often as it takes, without spending one of its retries
                # (a PostgreSQL restart longer than the retry budget used to dead-letter good events).
                self._retry(message, attempt - 1, delay=backoff_seconds(3, self.backoff_base))
            elif attempt > self.max_retries:
                self._dead_letter(message, f"{type(outcome).__name__}: {outcome}")
            else:
                self._retry(message, attempt)
        message.ack()

    def consume(self, limit: int | None = None, timeout: float | None = None, safety_interval: float = 1, **kwargs: Any) -> Any:
        """kombu's consume loop, flushing the batch when no message arrived for linger_s."""
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            while not self.should_stop:
                self.on_iteration()
                try:
                    conn.drain_events(timeout=self.linger_s if self._pending else safety_interval)
                except TimeoutError:
                    conn.heartbeat_check()
                    self.flush()
                except OSError:
                    if not self.should_stop:
                        raise
                yield
            self._pending = []  # unacked: the broker redelivers them to whoever consumes next

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

    def _retry(self, message: Message, attempt: int, delay: float | None = None) -> None:
        delay = backoff_seconds(attempt, self.backoff_base) if delay is None else delay
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
            headers={
                "x-dead-letter-reason": reason[:1000],
                "x-original-queue": self.spec.queue,
                "x-dead-lettered-at": isoformat(utcnow()),
            },
        )

    def on_iteration(self) -> None:
        """kombu calls this about once a second while consuming: the loop's liveness heartbeat."""
        self.heartbeat()

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        """Log and keep trying: the broker coming back is the normal case (still alive: beats)."""
        self.heartbeat()
        log.warning("broker connection lost; retrying", extra={"in_s": interval, "error": str(exc)})

    def close(self) -> None:
        """Stop consuming and release connections."""
        self.should_stop = True
        for conn in (self._side, self.connection):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.release()


def _one_by_one(handle: Callable[[CloudEvent], Any]) -> HandleMany:
    def run(events: list[CloudEvent]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for event in events:
            try:
                handle(event)
                outcomes.append(None)
            except Exception as exc:  # noqa: BLE001 - settled per message by the consumer
                outcomes.append(exc)
        return outcomes

    return run
