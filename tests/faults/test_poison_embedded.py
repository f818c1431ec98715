"""Poison messages and a consumer that keeps failing on the embedded transport (issue 13).

The four real services on SQLite files, as `countyhub run` has them; the formulary's outbox gets
good events and, between them, a row that is not JSON, a well-formed event of a type no contract
names, and an event whose payload its contract rejects (rows record_event would refuse, written
as a broken or older producer could). Then procurement's read model breaks (its table is renamed
away) while one more event arrives: it is retried BUS_MAX_RETRIES times and dead-lettered for
procurement alone. The real local relay (shared/bus/local.py, with shared.runtime.local_consumers)
runs pass after pass, and every good event reaches every consumer exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from hub.registry import specs
from shared.bus.local import DEAD_LETTERED, dead_letters, relay_local, replay_local_dead_letters
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.events.envelope import CloudEvent
from shared.runtime import ServiceContext, local_consumers
from tests.faults.bus_faults_support import SOURCE, envelope, item_payload, rename_table
from tests.support.backends import Backend

PUBLISHED = "formulary.item.published"
MAX_RETRIES = 2


@pytest.fixture
def hub(tmp_path: Any) -> Iterator[dict[str, ServiceContext]]:
    """name -> each registered service's migrated SQLite database (the embedded default)."""
    backend = Backend("sqlite", tmp_path)
    try:
        yield {spec.name: backend.context(spec) for spec in specs()}
    finally:
        backend.close()


def _raw(producer: ServiceContext, event_id: str, event_type: str, body: str | bytes) -> None:
    outbox = producer.metadata.tables["outbox"]
    text = body.decode() if isinstance(body, bytes) else body
    with unit_of_work(producer.factory) as session:
        session.execute(insert(outbox).values(event_id=event_id, event_type=event_type, envelope=text, created_at=utcnow()))


def _publish(producer: ServiceContext, code: str) -> CloudEvent:
    with unit_of_work(producer.factory) as session:
        return producer.record(session, PUBLISHED, item_payload(code, 1, 1))


def _drain(hub: dict[str, ServiceContext], passes: int = 20) -> int:
    """Run the formulary's local relay until its outbox is empty; how many passes it took."""
    producer = hub["formulary"]
    consumers = local_consumers({spec.name: (spec, hub[spec.name]) for spec in specs()})
    outbox = producer.metadata.tables["outbox"]
    for n in range(1, passes + 1):
        relay_local(producer.factory, producer.metadata, consumers, max_retries=MAX_RETRIES)
        with producer.factory() as session:
            if not session.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None))).first():
                return n
    raise AssertionError(f"the outbox still holds unsent rows after {passes} passes")


def _codes(ctx: ServiceContext, table: str = "ref_items") -> set[str]:
    t = ctx.metadata.tables[table]
    with ctx.factory() as session:
        return set(session.execute(select(t.c.code)).scalars())


def _inbox(ctx: ServiceContext) -> list[str]:
    t = ctx.metadata.tables["inbox"]
    with ctx.factory() as session:
        return sorted(session.execute(select(t.c.event_id)).scalars())


def test_poison_is_dead_lettered_at_once_and_a_failing_consumer_after_its_retries(hub: dict[str, ServiceContext]) -> None:
    formulary = hub["formulary"]
    keepers = [name for name in hub if name != "formulary"]
    first = _publish(formulary, "EP000001")
    _raw(formulary, "junk-1", PUBLISHED, '{"specversion": "1.0", "id": ')
    unknown = json.loads(envelope("formulary.item.recalled", {"code": "EP000002"}))
    _raw(formulary, unknown["id"], unknown["type"], json.dumps(unknown))
    rejected = CloudEvent(type=PUBLISHED, source=SOURCE, data={**item_payload("EP000003", 1, 1), "package_size": "a box"})
    _raw(formulary, rejected.id, rejected.type, rejected.to_json())
    second = _publish(formulary, "EP000004")

    _drain(hub)
    for name in keepers:
        assert _codes(hub[name]) == {"EP000001", "EP000004"}, name  # the consumers went on past the poison
        assert _inbox(hub[name]) == sorted([first.id, second.id]), name
    letters = {row["event_id"]: row for row in dead_letters(formulary.factory, formulary.metadata)}
    assert set(letters) == {"junk-1", unknown["id"], rejected.id}
    assert letters["junk-1"]["consumers"] == "*" and "invalid envelope: not JSON" in letters["junk-1"]["reason"]
    assert letters[unknown["id"]]["consumers"] == "*"
    assert letters[unknown["id"]]["reason"] == f"{DEAD_LETTERED} for * (unknown event type: formulary.item.recalled)"
    assert letters[rejected.id]["consumers"] == ",".join(sorted(keepers))  # every subscriber refused it
    assert "payload rejected by its contract" in letters[rejected.id]["reason"] and "package_size" in letters[rejected.id]["reason"]
    assert all(row["at"] is not None for row in letters.values())

    # Procurement's read model breaks; one more event: retried MAX_RETRIES times, then dead-lettered for procurement.
    rename_table(hub["procurement"], "ref_items", "ref_items_away")
    third = _publish(formulary, "EP000005")
    assert _drain(hub) == MAX_RETRIES + 1
    _publish(formulary, "EP000006")
    rename_table(hub["procurement"], "ref_items_away", "ref_items")
    _drain(hub)
    outbox = formulary.metadata.tables["outbox"]
    with formulary.factory() as session:
        row = session.execute(select(outbox).where(outbox.c.event_id == third.id)).one()
    assert row.attempts == MAX_RETRIES + 1 and row.sent_at is not None
    assert row.last_error.startswith(f"{DEAD_LETTERED} for procurement (procurement: OperationalError")
    assert "ref_items" in row.last_error
    assert _codes(hub["procurement"]) == {"EP000001", "EP000004", "EP000006"}  # it carried on after the dead letter
    for name in keepers:
        if name != "procurement":
            assert _codes(hub[name]) == {"EP000001", "EP000004", "EP000005", "EP000006"}, name
    newest = dead_letters(formulary.factory, formulary.metadata, consumer="procurement")[0]
    assert newest["event_id"] == third.id and newest["consumers"] == "procurement"
    assert [r["event_id"] for r in dead_letters(formulary.factory, formulary.metadata, consumer="dispatch")] == [
        rejected.id, unknown["id"], "junk-1"]  # fmt: skip


def _row(ctx: ServiceContext, event_id: str) -> Any:
    outbox = ctx.metadata.tables["outbox"]
    with ctx.factory() as session:
        return session.execute(select(outbox).where(outbox.c.event_id == event_id)).one()


def _stamps(ctx: ServiceContext) -> dict[str, Any]:
    t = ctx.metadata.tables["ref_items"]
    with ctx.factory() as session:
        return {r.code: (r.version, r.updated_at) for r in session.execute(select(t.c.code, t.c.version, t.c.updated_at))}


def test_a_replayed_dead_letter_goes_to_the_consumers_that_dead_lettered_it_only(hub: dict[str, ServiceContext]) -> None:
    """replay_local_dead_letters (what `countyhub dlq replay` runs on the embedded hub): still broken,
    the row is retried for procurement alone and dead-lettered again; fixed, it is applied there; the
    other consumers, which applied it the first time, are never offered it again."""
    formulary = hub["formulary"]
    rename_table(hub["procurement"], "ref_items", "ref_items_away")
    event = _publish(formulary, "EP000007")
    _drain(hub)
    assert _row(formulary, event.id).last_error.startswith(f"{DEAD_LETTERED} for procurement (")
    others = {name: _stamps(hub[name]) for name in ("dispatch", "prescription_review")}
    assert all("EP000007" in stamps for stamps in others.values())

    assert replay_local_dead_letters(formulary.factory, formulary.metadata, "dispatch") == 0  # not dispatch's
    assert replay_local_dead_letters(formulary.factory, formulary.metadata, "procurement") == 1
    row = _row(formulary, event.id)
    assert (row.sent_at, row.attempts, row.last_error) == (None, 0, "replay for procurement")
    consumers = local_consumers({spec.name: (spec, hub[spec.name]) for spec in specs()})
    relay_local(formulary.factory, formulary.metadata, consumers, max_retries=MAX_RETRIES)  # still broken: fails
    row = _row(formulary, event.id)
    assert row.sent_at is None and row.attempts == 1 and row.last_error.startswith("replay for procurement: procurement: ")
    _drain(hub)
    assert _row(formulary, event.id).last_error.startswith(f"{DEAD_LETTERED} for procurement (")

    rename_table(hub["procurement"], "ref_items_away", "ref_items")
    assert replay_local_dead_letters(formulary.factory, formulary.metadata) == 1  # all consumers
    _drain(hub)
    assert "EP000007" in _codes(hub["procurement"]) and _row(formulary, event.id).last_error == "replay for procurement"
    assert dead_letters(formulary.factory, formulary.metadata) == []
    assert {name: _stamps(hub[name]) for name in others} == others  # offered to procurement alone
