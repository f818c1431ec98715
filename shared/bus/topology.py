"""The broker topology as plain data, shared by the kombu consumers and the pika admin.

One durable topic exchange carries every domain event, routed by its type. Each consuming
service has one queue bound to the event types its handlers map names (derived from the
registry's ServiceSpecs, never listed by hand), a retry queue that holds a failed message
for a back-off delay and then dead-letters it back to the service queue, and a dead-letter
queue for messages that keep failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

EVENTS_EXCHANGE = "countyhub.events"
DEAD_LETTER_EXCHANGE = "countyhub.dlx"
# The service queue is a quorum queue on RabbitMQ: its delivery limit is a last line of defence
# for messages that crash the consumer before it can count retries itself.
DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class ServiceQueues:
    """The queues one consuming service owns, and the event types it is bound to."""

    service: str
    bindings: tuple[str, ...]

    @property
    def queue(self) -> str:
        """Where the service's events arrive."""
        return f"{self.service}.events"

    @property
    def retry_queue(self) -> str:
        """Where a failed message waits out its back-off."""
        return f"{self.service}.retry"

    @property
    def dead_letter_queue(self) -> str:
        """Where a message goes after its last retry."""
        return f"{self.service}.dlq"

    def queue_arguments(self, quorum: bool) -> dict[str, Any]:
        """Arguments of the service queue; identical wherever it is declared (kombu or pika)."""
        args: dict[str, Any] = {
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.dead_letter_queue,
        }
        if quorum:
            args["x-queue-type"] = "quorum"
            args["x-delivery-limit"] = DELIVERY_LIMIT
        return args

    def retry_arguments(self) -> dict[str, Any]:
        """Expired messages go back to the service queue through the default exchange."""
        return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.queue}

    def dead_letter_arguments(self, quorum: bool) -> dict[str, Any]:
        """Arguments of the dead-letter queue."""
        return {"x-queue-type": "quorum"} if quorum else {}


def build_topology(subscriptions: Iterable[tuple[str, Iterable[str]]]) -> dict[str, ServiceQueues]:
    """Queues for each (service, event types it handles); services that handle nothing get none.

    The bindings are exactly the handled event types, sorted: a service's queue receives what its
    `handlers.py` map names and nothing else.
    """
    out: dict[str, ServiceQueues] = {}
    for service, event_types in subscriptions:
        keys = tuple(sorted(set(event_types)))
        if keys:
            out[service] = ServiceQueues(service, keys)
    return out


def topology() -> dict[str, ServiceQueues]:
    """The live topology: one entry per registered service that handles events (hub/registry.py)."""
    from hub.registry import specs  # the composition root; imported late, it imports every service

    return build_topology((spec.name, spec.handlers.keys()) for spec in specs())


def __getattr__(name: str) -> Any:
    # `TOPOLOGY` stays importable for callers; it is derived from the registry on every access.
    if name == "TOPOLOGY":
        return topology()
    raise AttributeError(name)


def binding_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: '*' is one word, '#' zero or more."""
    pat, key = pattern.split("."), routing_key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(key)
        if pat[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(key) + 1))
        if j == len(key):
            return False
        return (pat[i] == "*" or pat[i] == key[j]) and match(i + 1, j + 1)

    return match(0, 0)


def consumers_of(event_type: str, queues: dict[str, ServiceQueues] | None = None) -> list[str]:
    """Which services receive an event type (in the live topology unless queues are given)."""
    queues = topology() if queues is None else queues
    return [s.service for s in queues.values() if any(binding_matches(b, event_type) for b in s.bindings)]
