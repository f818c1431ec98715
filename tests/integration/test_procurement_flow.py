"""A requisition travels the whole way over the real RabbitMQ, each service on its own PostgreSQL database.

requisition approved and picked → procurement.shipment.ready → dispatch plans the day (its worker)
and publishes → dispatch.plan.published (expected arrival) → the driver confirms the stop →
dispatch.stop.completed (proof of delivery) → the site's receipt books the stock. Reference data
reaches both services as formulary.* events published on the broker by a foreign producer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from hub.registry import spec
from services.dispatch import service as dispatch
from services.dispatch import store as dispatch_store
from services.dispatch.commands import CompleteStop, PlanDay, PublishPlan
from services.dispatch.fleet import seed_fleet_if_empty
from services.procurement.model import commands as c
from services.procurement.model.requisition import OrderLine, ReceivedLine
from services.procurement.service import requisitions as rq
from services.procurement.store import T
from shared.auth import Principal
from shared.bus.publisher import EventPublisher
from shared.config import Settings
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.migrate import upgrade
from shared.runtime import Background, ServiceContext, build_context
from tests.service.procurement.procurement_support import (
    AMOX,
    HUB,
    INSULIN,
    ITEMS,
    KEEPER_T01,
    MANAGER,
    TOWNS,
    item_snapshot,
    line,
    stock_central,
)
from tests.support.bus import PG_ADMIN_URL, Broker, wait_until

DISPATCHER = Principal("disp-1", ("dispatcher",), name="调度员")
NAMES = ("procurement", "dispatch")


@pytest.fixture
def two_services(broker: Broker) -> Iterator[dict[str, ServiceContext]]:
    """Procurement and dispatch on fresh PostgreSQL databases, relays, consumers and dispatch's plan worker running."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = {s: f"countyhub_it_{s[:6]}_{uuid.uuid4().hex[:8]}" for s in NAMES}
    contexts: dict[str, ServiceContext] = {}
    backgrounds: list[Background] = []
    try:
        with admin.connect() as conn:
            for db in names.values():
                conn.execute(text(f'CREATE DATABASE "{db}"'))
        for name in NAMES:
            settings = Settings(service=name, database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{names[name]}",
                                broker_url=broker.url, jwt_secret="integration-secret-of-thirty-two-bytes!", port=0,
                                embedded=False)  # fmt: skip
            ctx = build_context(spec(name), settings)
            upgrade(spec(name).migrations, ctx.engine)
            contexts[name] = ctx
        with unit_of_work(contexts["dispatch"].factory) as session:
            seed_fleet_if_empty(session)
        for name, ctx in contexts.items():
            backgrounds.append(Background(spec(name), ctx).start(workers=name == "dispatch"))
        yield contexts
    finally:
        for background in backgrounds:
            background.shutdown()
        for ctx in contexts.values():
            ctx.engine.dispose()
        with admin.connect() as conn:
            for db in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def _publish_reference(broker: Broker) -> None:
    """The formulary's events for the hub, one township, the items and the township stocking list."""
    publisher = EventPublisher(broker.url)
    try:
        for i, site in enumerate([HUB, TOWNS[0]]):
            data = {**site, "version": 1, "catalogue_version": 1, "parent_code": None if site["is_hub"] else "H001",
                    "lat": 34.95 + i / 50, "lon": 115.9 + i / 50, "receiving_hours": [{"start": "08:00", "end": "17:00"}],
                    "active": True}  # fmt: skip
            publisher.send(new_event("formulary.site.upserted", data, source="/countyhub/formulary").to_dict())
        for item in ITEMS:
            publisher.send(new_event("formulary.item.published", item_snapshot(item), source="/countyhub/formulary").to_dict())
        publisher.send(new_event("formulary.stocklist.changed", {
            "scope": "level", "level": "township", "site_code": None, "catalogue_version": 1,
            "item_codes": [AMOX, INSULIN]}, source="/countyhub/formulary").to_dict())  # fmt: skip
    finally:
        publisher.close()


def test_requisition_to_receipt_over_rabbitmq(broker: Broker, two_services: dict[str, ServiceContext],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    proc, disp = two_services["procurement"], two_services["dispatch"]
    _publish_reference(broker)

    def knows(ctx: ServiceContext) -> bool:
        with ctx.factory() as session:
            sites = session.execute(select(ctx.metadata.tables["ref_sites"].c.code)).scalars().all()
            stocklists = session.execute(select(ctx.metadata.tables["ref_stocklists"].c.scope_key)).scalars().all()
            return len(sites) == 2 and (ctx is disp or bool(stocklists))

    wait_until(lambda: knows(proc) and knows(disp), timeout=30, what="both services to learn the reference data")
    from services.procurement.service import purchasing
    from tests.service.procurement.procurement_support import DIST, MAKER, SUBSIDIARY

    purchasing.register_distributor(proc, MANAGER, c.RegisterDistributor(DIST.name, DIST.tax_id, None))
    purchasing.register_manufacturer(proc, MANAGER, c.RegisterManufacturer(MAKER.name, MAKER.tax_id, (
        c.Agent(SUBSIDIARY.name, SUBSIDIARY.tax_id, "sales_subsidiary"),)))  # fmt: skip
    stock_central(proc, line(batch="IT-A", qty=240), line(code=INSULIN, batch="IT-C", qty=20, price="30.0000", temp="2-8℃"))

    req = rq.create_requisition(proc, KEEPER_T01, c.CreateRequisition(
        "T01", (OrderLine(AMOX, 48), OrderLine(INSULIN, 4)), urgent=True, urgent_reason="流感高峰", submit=True))  # fmt: skip
    rq.approve_requisition(proc, MANAGER, c.ApproveRequisition(req["id"]))
    shipment_id = rq.pick_requisition(proc, MANAGER, c.PickRequisition(req["id"]))["shipment_id"]

    def arrived() -> dict | None:  # type: ignore[type-arg]
        with disp.factory() as session:
            row = session.execute(select(dispatch_store.shipments).where(dispatch_store.shipments.c.id == shipment_id)).mappings().first()
            return dict(row) if row else None

    shipment = wait_until(arrived, timeout=30, what="dispatch to receive procurement.shipment.ready")
    assert shipment["site_code"] == "T01" and shipment["priority"] == 3
    assert set(shipment["deliver_l"]) == {"ambient", "cold"}  # volumes per compartment from the formulary read model

    day = dispatch.today() + timedelta(days=1)
    plan = dispatch.queue_plan(disp, DISPATCHER, PlanDay(day, time_limit_s=2.0, workers=1))

    def solved() -> bool:
        with disp.factory() as session:
            row = dispatch_store.plan(session, plan["id"])
            return bool(row and row["status"] == "solved")

    wait_until(solved, timeout=90, interval=0.5, what="dispatch's worker to solve the day")
    published = dispatch.publish_plan(disp, DISPATCHER, PublishPlan(plan["id"]))
    stop = next(s for r in published["routes"] for s in r["stops"] if shipment_id in s["shipment_ids"])

    def expected() -> dict | None:  # type: ignore[type-arg]
        found = rq.get_requisition(proc, KEEPER_T01, req["id"])
        return found if found["expected_at"] is not None else None

    shipped = wait_until(expected, timeout=30, what="procurement to learn the expected arrival")
    assert shipped["status"] == "shipped" and shipped["plan_id"] == plan["id"]

    monkeypatch.setattr(dispatch, "today", lambda: day)  # the round's day: stops are confirmed on it, not before
    dispatch.complete_stop(disp, DISPATCHER, CompleteStop(plan["id"], stop["stop_id"], received_by="苟村库管"))

    def delivered() -> dict | None:  # type: ignore[type-arg]
        found = rq.get_requisition(proc, KEEPER_T01, req["id"])
        return found if found["delivered_at"] is not None else None

    pod = wait_until(delivered, timeout=30, what="procurement to record the proof of delivery")
    assert pod["delivered_to"] == "苟村库管"

    rq.receive_requisition(proc, KEEPER_T01, c.ReceiveRequisition(req["id"], (
        ReceivedLine(AMOX, "IT-A", 48), ReceivedLine(INSULIN, "IT-C", 3, "damaged", "一支破损"))))  # fmt: skip
    with proc.factory() as session:
        lots = {r.batch_no: r.balance for r in session.execute(select(T["site_lots"]).where(T["site_lots"].c.site_code == "T01"))}
    assert lots == {"IT-A": 48, "IT-C": 3}
    assert rq.get_requisition(proc, KEEPER_T01, req["id"])["status"] == "received"
