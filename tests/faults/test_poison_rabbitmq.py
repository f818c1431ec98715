"""Poison messages on RabbitMQ (issue 13): the real procurement consumer (shared.runtime.consumer_loop,
what `countyhub consume` runs) on its own vhost and PostgreSQL database gets a message that is not
JSON, a well-formed event of a type no contract names, and an event whose payload its contract
rejects. Each goes to procurement.dlq at once (no retries) with its reason, nothing of it reaches
the database, and the consumer goes on with the good events sent after them.

tests/integration/test_bus_dead_letter.py covers retries with a test handler; this is the real
service and the three kinds of poison; tests/faults/test_dlq_cli.py drives list and replay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from shared.bus.consumer import RETRY_HEADER
from shared.bus.rabbit_admin import declare_topology, list_dead_letters
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, consumer_loop
from tests.faults.bus_faults_support import SOURCE, envelope, item_payload, private_vhost, retired_payload
from tests.support.backends import Backend
from tests.support.bus import Broker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PUBLISHED = "formulary.item.published"


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    with private_vhost("countyhub_poison") as made:
        declare_topology(made.url, quorum=True)
        yield made


@pytest.fixture(scope="module")
def procurement(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceContext]:
    """Procurement's migrated PostgreSQL database, wired to the vhost."""
    from services.procurement.app import SPEC

    backend = Backend("postgresql", tmp_path_factory.mktemp("poison"))
    try:
        yield backend.context(SPEC, broker_url=broker.url, max_retries=5)  # back-offs 0.5 s to 8 s
    finally:
        backend.close()


@pytest.fixture
def consuming(procurement: ServiceContext) -> Iterator[None]:
    """procurement's consumer loop running in a thread for the test."""
    from services.procurement.app import SPEC

    stop = threading.Event()
    thread = threading.Thread(target=consumer_loop, args=(SPEC, procurement, stop), name="poison-consumer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "the consumer did not stop"


def _items(ctx: ServiceContext) -> set[str]:
    table = ctx.metadata.tables["ref_items"]
    with ctx.factory() as session:
        return set(session.execute(select(table.c.code)).scalars())


def _inbox(ctx: ServiceContext) -> set[str]:
    table = ctx.metadata.tables["inbox"]
    with ctx.factory() as session:
        return set(session.execute(select(table.c.event_id)).scalars())


def _peek(broker: Broker, queue: str) -> list[tuple[str | None, dict[str, Any], bytes]]:
    """(message id, headers, body) of every message in a queue, left where it was."""
    out = []
    with broker.channel() as ch:
        tags = []
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=False)
            if method is None:
                break
            tags.append(method.delivery_tag)
            out.append((props.message_id, dict(props.headers or {}), body))
        for tag in tags:
            ch.basic_nack(tag, requeue=True)
    return out


def test_poison_goes_to_the_dead_letter_queue_with_its_reason_and_the_consumer_goes_on(
    broker: Broker, procurement: ServiceContext, consuming: None
) -> None:
    good_before = new_event(PUBLISHED, item_payload("PZ000001", 1, 1), source=SOURCE)
    good_after = new_event(PUBLISHED, item_payload("PZ000002", 1, 1), source=SOURCE)
    unknown = envelope("formulary.item.recalled", {"code": "PZ000003"})
    rejected = envelope(PUBLISHED, {**item_payload("PZ000004", 1, 1), "version": "new", "storage": "lukewarm"})
    unknown_id, rejected_id = json.loads(unknown)["id"], json.loads(rejected)["id"]

    broker.publish_raw(PUBLISHED, good_before.to_json().encode(), message_id=good_before.id)
    broker.publish_raw(PUBLISHED, b'{"specversion": "1.0", "id": ', message_id="junk-1")  # not JSON
    # An unknown type has no binding, so it is put straight on the queue (a stale or foreign producer).
    broker.publish_raw("procurement.events", unknown, exchange="", message_id=unknown_id)
    broker.publish_raw(PUBLISHED, rejected, message_id=rejected_id)
    wait_until(lambda: broker.depth("procurement.dlq") == 3, timeout=30, what="the three poison messages dead-lettered")
    broker.publish_raw(PUBLISHED, good_after.to_json().encode(), message_id=good_after.id)  # after the poison
    wait_until(lambda: {"PZ000001", "PZ000002"} <= _items(procurement), timeout=30, what="the good events applied")

    assert _items(procurement) == {"PZ000001", "PZ000002"}
    assert _inbox(procurement) == {good_before.id, good_after.id}  # poison left no trace in the database
    assert broker.depth("procurement.events") == 0 and broker.depth("procurement.retry") == 0

    dead = {mid: (headers, body) for mid, headers, body in _peek(broker, "procurement.dlq")}
    assert set(dead) == {"junk-1", unknown_id, rejected_id}
    reasons = {mid: headers["x-dead-letter-reason"] for mid, (headers, _) in dead.items()}
    assert reasons["junk-1"].startswith("invalid envelope: not JSON")
    assert reasons[unknown_id] == "unknown event type: formulary.item.recalled"
    assert reasons[rejected_id].startswith(f"payload rejected by its contract: {PUBLISHED}")
    assert "version" in reasons[rejected_id] and "storage" in reasons[rejected_id]
    for headers, _ in dead.values():
        assert RETRY_HEADER not in headers  # at once: retrying cannot help a poison message
        assert headers["x-original-queue"] == "procurement.events" and headers["x-dead-lettered-at"].endswith("Z")
    assert dead[rejected_id][1] == rejected  # the body as it came, for the operator

    # What an operator lists: consumer, event id, type, reason, time; listing removes nothing.
    listed = {(d.event_id, d.event_type): d for d in list_dead_letters(broker.url, "procurement")}
    assert set(listed) == {(None, None), (unknown_id, "formulary.item.recalled"), (rejected_id, PUBLISHED)}
    assert all(d.consumer == "procurement" and d.at and d.reason for d in listed.values())
    assert broker.depth("procurement.dlq") == 3


def test_a_retirement_that_overtakes_its_item_is_retried_until_the_item_is_there(
    broker: Broker, procurement: ServiceContext, consuming: None
) -> None:
    """Out of order on the real bus: the retirement comes first, is refused (NotYetKnown) and waits
    in procurement.retry; the item's snapshot arrives; the retry applies the retirement."""
    retire = new_event("formulary.item.retired", retired_payload("PZ000010", 2, 2), source=SOURCE)
    publish = new_event(PUBLISHED, item_payload("PZ000010", 1, 1), source=SOURCE)
    broker.publish_raw(retire.type, retire.to_json().encode(), message_id=retire.id)
    wait_until(lambda: broker.depth("procurement.retry") == 1, timeout=15, what="the retirement refused, waiting to be retried")
    assert retire.id not in _inbox(procurement)
    broker.publish_raw(PUBLISHED, publish.to_json().encode(), message_id=publish.id)
    wait_until(lambda: {retire.id, publish.id} <= _inbox(procurement), timeout=30, what="both applied")
    items = procurement.metadata.tables["ref_items"]
    with procurement.factory() as session:
        row = session.execute(select(items).where(items.c.code == "PZ000010")).one()
    assert (row.version, row.status, row.snapshot["generic_name"]) == (2, "retired", "阿莫西林1")
    assert all(mid != retire.id for mid, _, _ in _peek(broker, "procurement.dlq"))
