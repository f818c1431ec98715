"""Background loops of the review centre.

- `his_inbox_worker`: consumes screening requests that HIS systems send by message to the queue
  `prescription_review.his-inbox` (same JSON body as POST /api/v1/screenings), screens each and,
  when the message names a `reply_to` queue, answers there with the documented screening answer
  (or a problem with the field errors). The queue is point-to-point between HIS and this service,
  kept apart from the domain event exchange so patient facts never reach other services. Acks
  after the answer is sent; a malformed message is answered and acked (never redelivered forever).
- `waiting_limit_worker`: every 30 s lets through the prescriptions that waited longer than the
  configured limit (recorded and counted; see service.release_overdue).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from kombu import Connection, Exchange, Message, Queue
from marshmallow import ValidationError

from services.prescription_review import service
from services.prescription_review.schemas import SCREENING_IN
from shared.auth import Principal
from shared.errors import DomainError
from shared.runtime import ServiceContext
from shared.web.problems import flatten_messages

log = logging.getLogger(__name__)

HIS_QUEUE = "prescription_review.his-inbox"
HIS_ACTOR = Principal(subject="his-queue", roles=("his",), name="HIS 消息接口")


def his_queue() -> Queue:
    """The durable HIS inbox queue on the default exchange."""
    return Queue(HIS_QUEUE, Exchange("", type="direct"), routing_key=HIS_QUEUE, durable=True)


def answer_for(ctx: ServiceContext, body: Any) -> dict[str, Any]:
    """Screen one message body; the screening answer, or a problem naming the bad fields."""
    if not isinstance(body, dict):
        return {"status": 400, "title": "Invalid input", "errors": [{"field": "body", "message": "a JSON object"}]}
    try:
        rx = SCREENING_IN.load(body)
    except ValidationError as exc:
        return {"status": 422, "title": "Invalid input", "errors": flatten_messages(exc.messages)}
    try:
        answer = service.screen_prescription(ctx, HIS_ACTOR, rx, source="queue")
    except DomainError as exc:
        errors = [{"field": k, "message": v} for k, v in exc.fields.items()]
        return {"status": exc.status, "title": exc.title, "detail": exc.detail, "errors": errors}
    except Exception as exc:  # noqa: BLE001 - the consumer must answer and live on
        # Only the error's type: a database error's text carries the statement's parameters (patient facts).
        log.error("HIS message could not be screened", extra={"prescription_no": rx.prescription_no, "error": type(exc).__name__})
        return {"status": 503, "title": "Service unavailable", "detail": "screening failed; send the prescription again",
                "prescription_no": rx.prescription_no}  # fmt: skip
    return {"id": answer.id, "outcome": answer.outcome, "knowledge_version": answer.knowledge_version,
            "findings": answer.findings, "prescription_no": rx.prescription_no}  # fmt: skip


def his_inbox_worker(ctx: ServiceContext, stop: threading.Event) -> None:
    """Consume the HIS inbox until stopped."""
    with Connection(ctx.settings.broker_url) as conn:
        producer = conn.Producer()

        def on_message(body: Any, message: Message) -> None:
            if isinstance(body, (bytes, str)):
                try:
                    body = json.loads(body)
                except ValueError:
                    body = None
            reply = answer_for(ctx, body)
            reply_to = message.properties.get("reply_to")
            if reply_to:
                producer.publish(reply, routing_key=reply_to, exchange="", serializer="json",
                                 correlation_id=message.properties.get("correlation_id"), retry=True)  # fmt: skip
            message.ack()

        with conn.Consumer(his_queue(), callbacks=[on_message], accept=["json"]) as consumer:
            consumer.qos(prefetch_count=ctx.settings.prefetch)
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    continue
                except OSError:
                    log.exception("HIS inbox connection lost")
                    stop.wait(2.0)
                    conn.ensure_connection(max_retries=3)
                    consumer.revive(conn.default_channel)


def waiting_limit_worker(ctx: ServiceContext, stop: threading.Event, every_s: float = 30.0) -> None:
    """Apply the waiting limit every `every_s` seconds until stopped."""
    while not stop.is_set():
        try:
            released = service.release_overdue(ctx)
            if released:
                log.warning("waiting limit released prescriptions unreviewed", extra={"released": released})
        except Exception:  # noqa: BLE001 - the loop must outlive database hiccups
            log.exception("waiting-limit sweep failed")
        stop.wait(every_s)
