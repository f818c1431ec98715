"""The embedded default's delivery (shared/bus/local.py): sent means every consumer committed it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select
from sqlalchemy.orm import Session

from shared.bus.local import DEAD_LETTERED, dead_letters, relay_local
from shared.bus.tables import add_bus_tables
from shared.db import new_metadata, read_only, unit_of_work
from shared.events.envelope import CloudEvent
from shared.runtime import ServiceContext, ServiceSpec, local_consumers
from tests.support.backends import Backend

RETIRED = "formulary.item.retired"


def _schema() -> tuple[MetaData, Table]:
    metadata = new_metadata()
    add_bus_tables(metadata)
    notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", Text, nullable=False))
    return metadata, notes


def _no_app(ctx: Any) -> Any:
    raise NotImplementedError


class Consumer:
    """A consuming service whose handler writes a note per event; codes in `fail` raise (n times, -1 = always)."""

    def __init__(self, backend: Backend, name: str) -> None:
        self.metadata, self.notes = _schema()
        self.ctx: ServiceContext = backend.tables(name, self.metadata)
        self.fail: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self.spec = ServiceSpec(
            name=name, port=0, metadata=self.metadata, create_app=_no_app, migrations=backend.tmp_path,
            handlers={RETIRED: self.handle},
        )

    def handle(self, session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
        code = payload["code"]
        self.calls[code] += 1
        session.execute(insert(self.notes).values(text=code))
        left = self.fail.get(code, 0)
        if left:
            self.fail[code] = left - 1 if left > 0 else left
            raise RuntimeError(f"refuses {code}")

    def texts(self) -> list[str]:
        with read_only(self.ctx.factory) as session:
            return list(session.execute(select(self.notes.c.text).order_by(self.notes.c.id)).scalars())


@pytest.fixture
def producer(backend: Backend) -> ServiceContext:
    metadata, _ = _schema()
    return backend.tables("producer", metadata)


def _record(producer: ServiceContext, *codes: str) -> None:
    with unit_of_work(producer.factory) as session:
        for code in codes:
            producer.record(session, RETIRED, {"code": code, "version": 1, "catalogue_version": 1, "reason": None})


def _unsent(producer: ServiceContext) -> list[Any]:
    outbox = producer.metadata.tables["outbox"]
    with read_only(producer.factory) as session:
        return list(session.execute(select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)))


def test_rows_are_sent_only_after_every_consumer_committed_and_repeats_change_nothing(
    backend: Backend, producer: ServiceContext
) -> None:
    a, b = Consumer(backend, "a"), Consumer(backend, "b")
    consumers = local_consumers({"a": (a.spec, a.ctx), "b": (b.spec, b.ctx)})
    _record(producer, *(f"YP{i}" for i in range(30)))
    b.fail["YP10"] = 2  # b fails on the 11th event: in the batch, then alone; the next pass succeeds
    first = relay_local(producer.factory, producer.metadata, consumers, batch_size=100)
    assert first.sent == 10 and first.blocked and "RuntimeError" in first.blocked
    assert len(_unsent(producer)) == 20 and _unsent(producer)[0].attempts == 1
    assert a.texts() == [f"YP{i}" for i in range(30)]  # a is not held back by b
    assert b.texts() == [f"YP{i}" for i in range(10)]  # b stopped at its failure, in order, nothing half-done
    second = relay_local(producer.factory, producer.metadata, consumers, batch_size=100)
    assert second.sent == 20 and second.blocked is None and _unsent(producer) == []
    assert a.texts() == b.texts() == [f"YP{i}" for i in range(30)]  # a's repeats changed nothing


def test_a_consumer_that_keeps_failing_gets_the_event_dead_lettered_and_moves_on(
    backend: Backend, producer: ServiceContext
) -> None:
    a = Consumer(backend, "a")
    consumers = local_consumers({"a": (a.spec, a.ctx)})
    _record(producer, "YP1", "YP2", "YP3")
    a.fail["YP2"] = -1
    for _ in range(4):  # two failures, the third dead-letters YP2, the fourth delivers YP3
        relay_local(producer.factory, producer.metadata, consumers, max_retries=2)
    assert a.texts() == ["YP1", "YP3"] and _unsent(producer) == []
    [letter] = dead_letters(producer.factory, producer.metadata)
    assert letter["event_type"] == RETIRED and letter["reason"].startswith(DEAD_LETTERED) and "refuses YP2" in letter["reason"]


def test_a_payload_the_contract_rejects_is_dead_lettered_at_once(backend: Backend, producer: ServiceContext) -> None:
    a = Consumer(backend, "a")
    consumers = local_consumers({"a": (a.spec, a.ctx)})
    _record(producer, "YP1")
    outbox = producer.metadata.tables["outbox"]
    bad = CloudEvent(type=RETIRED, source="/test", data={"code": "YP2", "version": "two"})  # bypasses record()'s check
    with unit_of_work(producer.factory) as session:
        session.execute(insert(outbox).values(event_id=bad.id, event_type=bad.type, envelope=bad.to_json(), created_at=bad.time))
    _record(producer, "YP3")
    relay_local(producer.factory, producer.metadata, consumers)
    relay_local(producer.factory, producer.metadata, consumers)
    assert a.texts() == ["YP1", "YP3"] and a.calls["YP2"] == 0 and _unsent(producer) == []
    [letter] = dead_letters(producer.factory, producer.metadata)
    assert "contract" in letter["reason"] and letter["event_id"] == bad.id


def test_a_consumer_whose_database_stays_locked_is_retried_never_dead_lettered(
    backend: Backend, producer: ServiceContext
) -> None:
    """A lock wait that timed out ("database is locked", lock_timeout) is transient: the event waits
    for the lock however many passes that takes; dead-lettering it would lose it from the read model."""
    from sqlalchemy.exc import OperationalError

    a = Consumer(backend, "a")
    locked = {"left": 8}  # two tries a pass (the batch, then alone): locked for four passes

    def handle(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
        if payload["code"] == "YP2" and locked["left"]:
            locked["left"] -= 1
            raise OperationalError("INSERT INTO notes", {}, Exception("database is locked"))
        a.handle(session, payload, event)

    a.spec.handlers[RETIRED] = handle  # type: ignore[index]
    consumers = local_consumers({"a": (a.spec, a.ctx)})
    _record(producer, "YP1", "YP2", "YP3")
    for _ in range(4):
        result = relay_local(producer.factory, producer.metadata, consumers, max_retries=1)
        assert result.blocked and "locked" in result.blocked
    assert dead_letters(producer.factory, producer.metadata) == [] and [r.attempts for r in _unsent(producer)][:1] == [4]
    assert relay_local(producer.factory, producer.metadata, consumers, max_retries=1).blocked is None
    assert a.texts() == ["YP1", "YP2", "YP3"] and _unsent(producer) == []
