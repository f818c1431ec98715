"""HIS systems that send prescriptions by message: the review centre consumes its HIS inbox queue on
the real RabbitMQ, screens each message (on PostgreSQL) and answers on the reply queue — the
documented answer, or a problem naming the bad field (and nothing written)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Queue
from sqlalchemy import func, select

from services.prescription_review import store
from services.prescription_review.app import SPEC
from services.prescription_review.worker import HIS_QUEUE, his_inbox_worker
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.service.prescription_review.review_support import body, flagged, load_reference
from tests.support.bus import Broker, create_database, drop_database
from tests.support.web import make_settings


@pytest.fixture
def review_ctx(broker: Broker) -> Iterator[ServiceContext]:
    """A review database on PostgreSQL that knows the sample county, talking to the test vhost."""
    url = create_database("countyhub_it_review")
    ctx = build_context(SPEC, make_settings("prescription_review", url, broker_url=broker.url))
    upgrade(SPEC.migrations, ctx.engine)
    load_reference(ctx)
    try:
        yield ctx
    finally:
        ctx.engine.dispose()
        drop_database(url)


def ask(broker: Broker, messages: list[Any]) -> list[dict[str, Any]]:
    """Send each message with a reply queue; return the answers in order."""
    reply = f"his-replies-{uuid.uuid4().hex[:8]}"
    answers: dict[int, dict[str, Any]] = {}
    with Connection(broker.url) as conn:
        queue = Queue(reply, durable=True)
        queue(conn.default_channel).declare()
        producer = conn.Producer()
        for n, message in enumerate(messages):
            producer.publish(message, routing_key=HIS_QUEUE, exchange="", serializer="json", reply_to=reply,
                             correlation_id=str(n), declare=[Queue(HIS_QUEUE, durable=True)])  # fmt: skip
        with conn.SimpleQueue(reply) as replies:
            for _ in messages:
                got = replies.get(timeout=30)
                answers[int(got.properties["correlation_id"])] = got.payload
                got.ack()
    return [answers[n] for n in range(len(messages))]


def test_prescriptions_sent_by_message_are_screened_and_answered(broker: Broker, review_ctx: ServiceContext) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=his_inbox_worker, args=(review_ctx, stop), daemon=True)
    worker.start()
    try:
        bad = body(prescription_no="R-MQ-BAD")
        bad["items"][0]["route"] = "mouth"
        answers = ask(broker, [body(prescription_no="R-MQ-1"), flagged("R-MQ-2"), bad, "not json at all"])
    finally:
        stop.set()
        worker.join(10)
    assert answers[0].get("outcome") == "pass", answers[0]
    assert set(answers[0]) >= {"id", "outcome", "knowledge_version", "findings"}
    assert answers[1]["outcome"] == "review" and answers[1]["findings"][0]["code"] == "DOSE_ABOVE_MAX"
    assert answers[2]["status"] == 422 and answers[2]["errors"][0]["field"] == "items[0].route"
    assert answers[3]["status"] in (400, 422)
    with review_ctx.factory() as s:
        numbers = set(s.execute(select(store.reviews.c.prescription_no)).scalars())
        sources = set(s.execute(select(store.screenings.c.source)).scalars())
        assert s.execute(select(func.count()).select_from(store.reviews)).scalar_one() == 2
    assert numbers == {"R-MQ-1", "R-MQ-2"} and sources == {"queue"}
