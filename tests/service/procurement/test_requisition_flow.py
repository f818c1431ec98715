"""Requisitions from draft to received, idempotent creation, site scope, FEFO picking (both backends)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.procurement.model import commands as c
from services.procurement.model.requisition import OrderLine, ReceivedLine
from services.procurement.service import requisitions as rq
from services.procurement.store import T
from services.procurement.store.stock import central_balance_check, central_lots
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import (
    AMLO2,
    AMOX,
    INSULIN,
    KEEPER_AND_MANAGER,
    KEEPER_T01,
    KEEPER_T02,
    MANAGER,
    line,
    outbox_payloads,
    publish,
    stock_central,
    today,
)


def _new(ctx: ServiceContext, qty: int = 48, urgent: bool = False, key: str | None = None, who=KEEPER_T01) -> dict:  # type: ignore[no-untyped-def]
    cmd = c.CreateRequisition("T01", (OrderLine(AMOX, qty),), urgent=urgent, urgent_reason="急诊缺药" if urgent else None)
    return rq.create_requisition(ctx, who, cmd, idempotency_key=key)


def test_draft_to_received_books_site_stock_fefo(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    stock_central(ctx, line(batch="LATE", qty=240, expiry=today() + timedelta(days=900)),
                  line(batch="SOON", qty=24, expiry=today() + timedelta(days=400)))  # fmt: skip
    req = _new(ctx, qty=48)
    assert req["status"] == "draft" and [ln["quantity"] for ln in req["lines"]] == [48]
    rq.submit_requisition(ctx, KEEPER_T01, c.SubmitRequisition(req["id"]))
    approved = rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    assert [(a["batch_no"], a["quantity"]) for a in approved["allocations"]] == [("SOON", 24), ("LATE", 24)]
    picked = rq.pick_requisition(ctx, MANAGER, c.PickRequisition(req["id"]))
    assert picked["status"] == "picked" and picked["shipment_id"] == f"S-{req['id']}"
    (ready,) = outbox_payloads(ctx, "procurement.shipment.ready")
    assert ready["priority"] == 1 and ready["deliver_by"] is None and ready["requisition_id"] == req["id"]
    # 48 capsules = 2 packages of 120 cm³ / 60 g
    assert ready["lines"] == [{"item_code": AMOX, "quantity": 48, "compartment": "ambient", "volume_l": 0.24, "weight_kg": 0.12}]
    assert ready["volumes_l"] == {"ambient": 0.24} and ready["weights_kg"] == {"ambient": 0.12}
    rq.ship_requisition(ctx, MANAGER, c.ShipRequisition(req["id"]))
    with pytest.raises(InvalidInput) as exc:  # every lot counted, a short count says why
        rq.receive_requisition(ctx, KEEPER_T01, c.ReceiveRequisition(req["id"], (ReceivedLine(AMOX, "SOON", 20),)))
    assert "lines[0].discrepancy" in exc.value.fields
    done = rq.receive_requisition(ctx, KEEPER_T01, c.ReceiveRequisition(req["id"], (
        ReceivedLine(AMOX, "SOON", 20, "damaged", "4 盒破损"), ReceivedLine(AMOX, "LATE", 24))))  # fmt: skip
    assert done["status"] == "received"
    with ctx.factory() as session:
        lots = {r.batch_no: r.balance for r in session.execute(select(T["site_lots"]).where(T["site_lots"].c.site_code == "T01"))}
        assert lots == {"SOON": 20, "LATE": 24}
        assert central_balance_check(session) == []
        assert {r["batch_no"]: r["balance"] for r in central_lots(session, AMOX, with_empty=True)} == {"SOON": 0, "LATE": 216}


def test_urgent_requisition_is_an_urgent_shipment(service_ctx: ServiceContext) -> None:
    stock_central(service_ctx, line(qty=240))
    with pytest.raises(InvalidInput) as exc:
        rq.create_requisition(service_ctx, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(AMOX, 24),), urgent=True))
    assert "urgent_reason" in exc.value.fields
    req = _new(service_ctx, urgent=True)
    rq.submit_requisition(service_ctx, KEEPER_T01, c.SubmitRequisition(req["id"]))
    rq.approve_requisition(service_ctx, MANAGER, c.ApproveRequisition(req["id"]))
    rq.pick_requisition(service_ctx, MANAGER, c.PickRequisition(req["id"]))
    (ready,) = outbox_payloads(service_ctx, "procurement.shipment.ready")
    assert ready["priority"] == 3 and ready["deliver_by"] == today().isoformat()


def test_idempotency_key_creates_exactly_one_even_when_racing(service_ctx: ServiceContext) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(_new(service_ctx, key="retry-123")["id"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and len(results) == 6
    with service_ctx.factory() as session:
        assert session.execute(select(func.count()).select_from(T["requisitions"])).scalar() == 1
    other = _new(service_ctx, key="retry-124")
    assert other["id"] != results[0]


def test_rules_on_lines_and_sites(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    cases = [
        (c.CreateRequisition("T01", (OrderLine(AMOX, 25),)), "lines[0].quantity"),
        (c.CreateRequisition("T01", (OrderLine(AMLO2, 7),)), "lines[0].item_code"),  # not on the stocking list
        (c.CreateRequisition("T01", (OrderLine("YP404404", 1),)), "lines[0].item_code"),
    ]
    for cmd, field in cases:
        with pytest.raises(InvalidInput) as exc:
            rq.create_requisition(ctx, KEEPER_T01, cmd)
        assert field in exc.value.fields
    with pytest.raises(InvalidInput):
        rq.create_requisition(ctx, MANAGER, c.CreateRequisition("H001", (OrderLine(AMOX, 24),)))
    with pytest.raises(InvalidInput):
        rq.create_requisition(ctx, MANAGER, c.CreateRequisition("NOPE", (OrderLine(AMOX, 24),)))
    with ctx.factory() as session:
        assert session.execute(select(func.count()).select_from(T["requisitions"])).scalar() == 0


def test_cross_site_access_is_denied(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    for who in (KEEPER_T02, KEEPER_AND_MANAGER.__class__("sk-x", ("storekeeper", "pharmacy_manager"), site="T02")):
        with pytest.raises(Forbidden):
            rq.create_requisition(ctx, who, c.CreateRequisition("T01", (OrderLine(AMOX, 24),)))
    req = _new(ctx)
    with pytest.raises(Forbidden):
        rq.get_requisition(ctx, KEEPER_T02, req["id"])
    with pytest.raises(Forbidden):
        rq.submit_requisition(ctx, KEEPER_T02, c.SubmitRequisition(req["id"]))
    with pytest.raises(Forbidden):  # a storekeeper cannot approve, even their own
        rq.approve_requisition(ctx, KEEPER_T01, c.ApproveRequisition(req["id"]))
    assert rq.get_requisition(ctx, KEEPER_T01, req["id"])["status"] == "draft"


def test_approval_cuts_need_reasons_and_stock(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    stock_central(ctx, line(qty=24))
    req = _new(ctx, qty=48)
    with pytest.raises(Conflict):  # still a draft
        rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    rq.submit_requisition(ctx, KEEPER_T01, c.SubmitRequisition(req["id"]))
    with pytest.raises(Conflict) as short:
        rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    assert f"lines[{AMOX}].approved_quantity" in short.value.fields
    with pytest.raises(InvalidInput) as exc:
        rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"], (c.ApprovedLine(AMOX, 24),)))
    assert f"lines[{AMOX}].reason" in exc.value.fields
    done = rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"], (c.ApprovedLine(AMOX, 24, "库存不足"),)))
    assert done["lines"][0]["approved_quantity"] == 24 and done["lines"][0]["cut_reason"] == "库存不足"
    with pytest.raises(Conflict):  # approved twice
        rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    rejected = _new(ctx)
    rq.submit_requisition(ctx, KEEPER_T01, c.SubmitRequisition(rejected["id"]))
    assert rq.reject_requisition(ctx, MANAGER, c.RejectRequisition(rejected["id"], "重复请领"))["status"] == "rejected"


def test_expired_lots_are_not_picked(service_ctx: ServiceContext) -> None:
    from decimal import Decimal

    from services.procurement.store.stock import add_central_lot
    from shared.clock import utcnow
    from shared.db import unit_of_work

    with unit_of_work(service_ctx.factory) as session:
        add_central_lot(session, AMOX, "OLD", today() - timedelta(days=1), Decimal("1"), 240, "seed", (), utcnow())
    req = _new(service_ctx, qty=24)
    rq.submit_requisition(service_ctx, KEEPER_T01, c.SubmitRequisition(req["id"]))
    with pytest.raises(Conflict):
        rq.approve_requisition(service_ctx, MANAGER, c.ApproveRequisition(req["id"]))


def test_dispatch_events_mark_expected_and_delivered(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    stock_central(ctx, line(code=INSULIN, qty=10, price="30.0000", temp="2-8℃ 全程记录"))
    req = rq.create_requisition(ctx, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(INSULIN, 5),), submit=True))
    rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    picked = rq.pick_requisition(ctx, MANAGER, c.PickRequisition(req["id"]))
    sid = picked["shipment_id"]
    eta = "2026-12-01T09:30:00+08:00"
    publish(ctx, "dispatch.plan.published", {"plan_id": "P1", "date": "2026-12-01", "unassigned": [], "routes": [
        {"vehicle_id": "V1", "distance_km": 12.5, "stops": [
            {"stop_id": "T01", "site_code": "T01", "sequence": 1, "eta": eta, "shipment_ids": [sid]}]}]})  # fmt: skip
    shipped = rq.get_requisition(ctx, KEEPER_T01, req["id"])
    assert shipped["status"] == "shipped" and shipped["expected_at"].isoformat().startswith("2026-12-01T01:30")
    publish(ctx, "dispatch.stop.completed", {"plan_id": "P1", "stop_id": "T01", "site_code": "T01", "shipment_ids": [sid],
                                             "completed_at": "2026-12-01T09:41:00+08:00", "received_by": "王药师"})  # fmt: skip
    delivered = rq.get_requisition(ctx, KEEPER_T01, req["id"])
    assert delivered["delivered_at"] is not None and delivered["delivered_to"] == "王药师"
    rq.receive_requisition(ctx, KEEPER_T01, c.ReceiveRequisition(req["id"], (ReceivedLine(INSULIN, None, 4, "damaged", "一支破损"),)))
    done = rq.get_requisition(ctx, KEEPER_T01, req["id"])
    assert done["status"] == "received" and [(a["received_quantity"], a["discrepancy"]) for a in done["allocations"]] == [(4, "damaged")]
