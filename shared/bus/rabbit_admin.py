"""RabbitMQ administration through pika: topology, broker checks, queue depth, dead letters.

Only for a real broker. A pika BlockingConnection is not thread-safe, so every function opens
its own short-lived connection and uses it from the calling thread alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from shared.bus.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, topology


@contextmanager
def channel(url: str) -> Iterator[BlockingChannel]:
    """A channel on a fresh blocking connection, closed afterwards."""
    params = pika.URLParameters(url.replace("pyamqp://", "amqp://"))
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    connection = pika.BlockingConnection(params)
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def declare_topology(url: str, quorum: bool = True) -> list[str]:
    """Declare exchanges, service queues, retry and dead-letter queues; return what was declared."""
    declared: list[str] = []
    with channel(url) as ch:
        ch.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
        ch.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
        declared += [f"exchange {EVENTS_EXCHANGE}", f"exchange {DEAD_LETTER_EXCHANGE}"]
        for spec in topology().values():
            ch.queue_declare(spec.queue, durable=True, arguments=spec.queue_arguments(quorum))
            for key in spec.bindings:
                ch.queue_bind(spec.queue, EVENTS_EXCHANGE, routing_key=key)
            ch.queue_declare(spec.retry_queue, durable=True, arguments=spec.retry_arguments())
            ch.queue_declare(spec.dead_letter_queue, durable=True, arguments=spec.dead_letter_arguments(quorum))
            ch.queue_bind(spec.dead_letter_queue, DEAD_LETTER_EXCHANGE, routing_key=spec.dead_letter_queue)
            declared += [f"queue {spec.queue}", f"queue {spec.retry_queue}", f"queue {spec.dead_letter_queue}"]
    return declared


def queue_depths(url: str) -> dict[str, int]:
    """Messages ready in every declared queue (for readiness, metrics and autoscaling)."""
    depths: dict[str, int] = {}
    with channel(url) as ch:
        for spec in topology().values():
            for name in (spec.queue, spec.retry_queue, spec.dead_letter_queue):
                frame = ch.queue_declare(name, passive=True)
                depths[name] = int(frame.method.message_count)
    return depths


def broker_reachable(url: str) -> bool:
    """True when a connection can be opened."""
    try:
        with channel(url):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter queue, as an operator sees it."""

    event_id: str | None
    event_type: str | None
    reason: str | None
    body: str
    consumer: str = ""  # the service whose queue dead-lettered it
    at: str | None = None  # when (x-dead-lettered-at, ISO 8601 UTC); None for letters from older consumers


def list_dead_letters(url: str, service: str, limit: int = 100) -> list[DeadLetter]:
    """Peek at a service's dead-letter queue without removing anything."""
    spec = topology()[service]
    out: list[DeadLetter] = []
    with channel(url) as ch:
        seen: list[int] = []
        for _ in range(limit):
            method, props, body = ch.basic_get(spec.dead_letter_queue, auto_ack=False)
            if method is None:
                break
            seen.append(method.delivery_tag)
            out.append(_describe(service, props, body))
        for tag in seen:
            ch.basic_nack(tag, requeue=True)
    return out


def replay_dead_letters(url: str, service: str, limit: int = 1000) -> int:
    """Move dead letters back onto the service queue with a fresh retry count; return how many.

    Only the messages in the queue when the replay starts are moved: one that a running consumer
    dead-letters again meanwhile stays there (it would otherwise go round until `limit`).
    """
    spec = topology()[service]
    moved = 0
    with channel(url) as ch:
        ch.confirm_delivery()
        waiting = int(ch.queue_declare(spec.dead_letter_queue, passive=True).method.message_count)
        for _ in range(min(limit, waiting)):
            method, props, body = ch.basic_get(spec.dead_letter_queue, auto_ack=False)
            if method is None:
                break
            headers = {k: v for k, v in (props.headers or {}).items() if not k.startswith("x-")}
            ch.basic_publish(
                "",
                spec.queue,
                body,
                pika.BasicProperties(
                    content_type=props.content_type, delivery_mode=2, headers=headers, message_id=props.message_id
                ),
            )
            ch.basic_ack(method.delivery_tag)
            moved += 1
    return moved


def _describe(service: str, props: Any, body: bytes) -> DeadLetter:
    text = body.decode("utf-8", errors="replace")
    event_id = event_type = None
    try:
        parsed = json.loads(text)
        event_id, event_type = parsed.get("id"), parsed.get("type")
    except (ValueError, AttributeError):
        pass
    headers = props.headers or {}
    reason, at = headers.get("x-dead-letter-reason"), headers.get("x-dead-lettered-at")
    return DeadLetter(
        event_id, event_type, str(reason) if reason is not None else None, text, service, str(at) if at is not None else None
    )
