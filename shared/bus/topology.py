"""The broker topology as plain data, shared by the kombu consumers and the pika admin.

One durable topic exchange carries every domain event, routed by its type. Each consuming
service has one queue bound to the types it needs, a retry queue that holds a failed message
for a back-off delay and then dead-letters it back to the service queue, and a dead-letter
queue for messages that keep failing.
"""

from __future__ import annotations

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


TOPOLOGY: dict[str, ServiceQueues] = {
    "procurement": ServiceQueues(
        "procurement",
        (
            "formulary.#",
            "review.prescription.approved",
            "dispatch.plan.published",
            "dispatch.stop.completed",
        ),
    ),
    "prescription_review": ServiceQueues("prescription_review", ("formulary.#",)),
    "dispatch": ServiceQueues("dispatch", ("formulary.#", "procurement.shipment.ready")),
}


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


def consumers_of(event_type: str) -> list[str]:
    """Which services receive an event type."""
    return [s.service for s in TOPOLOGY.values() if any(binding_matches(b, event_type) for b in s.bindings)]
