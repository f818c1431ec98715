"""Prices, VBP progress, purchase orders, transfers and settlement, consumption, counts, recall, alerts (both backends)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.procurement import queries
from services.procurement.model import commands as c
from services.procurement.model.policy import ProcurementPolicy
from services.procurement.model.requisition import OrderLine, ReceivedLine
from services.procurement.service import purchasing, receiving, requisitions, stock
from services.procurement.store import T
from services.procurement.store.stock import site_lots
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import (
    AMLO,
    AMLO2,
    AMOX,
    DIST,
    KEEPER_T01,
    KEEPER_T02,
    MANAGER,
    MANAGER2,
    clean_receipt,
    line,
    publish,
    stock_central,
    today,
)


def _deliver_to(ctx: ServiceContext, site: str, qty: int, batch: str = "B2311") -> None:
    """Book stock straight into a township (direct delivery)."""
    keeper = KEEPER_T01 if site == "T01" else KEEPER_T02
    assert receiving.book_receipt(ctx, keeper, c.BookReceipt(clean_receipt(line(batch=batch, qty=qty), site=site))).ok


def test_negotiation_rules_and_applicable_price(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    with pytest.raises(InvalidInput) as exc:  # nothing listed yet
        purchasing.record_price(ctx, MANAGER, c.RecordPrice("negotiated", AMOX, Decimal("1.0"), today()))
    assert "item_code" in exc.value.fields
    purchasing.record_price(ctx, MANAGER, c.RecordPrice("listed", AMOX, Decimal("1.5000"), today() - timedelta(days=30)))
    with pytest.raises(InvalidInput) as exc:
        purchasing.record_price(ctx, MANAGER, c.RecordPrice("negotiated", AMOX, Decimal("1.5000"), today()))
    assert "price" in exc.value.fields
    with pytest.raises(InvalidInput) as exc:  # VBP item
        purchasing.record_price(ctx, MANAGER, c.RecordPrice("negotiated", AMLO, Decimal("0.1"), today()))
    assert "item_code" in exc.value.fields
    purchasing.record_price(ctx, MANAGER, c.RecordPrice("listed", AMLO2, Decimal("2.0000"), today() - timedelta(days=3), national_negotiated=True))
    with pytest.raises(InvalidInput):  # 国谈
        purchasing.record_price(ctx, MANAGER, c.RecordPrice("negotiated", AMLO2, Decimal("1.0"), today()))
    purchasing.record_price(ctx, MANAGER, c.RecordPrice("negotiated", AMOX, Decimal("1.3000"), today() - timedelta(days=2)))
    with ctx.factory() as session:
        applied = purchasing.price_for(session, AMOX, today())
    assert applied is not None and (applied.price, applied.basis) == (Decimal("1.3000"), "negotiated")


def test_purchase_order_of_non_selected_product_needs_justification_and_other_approver(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    purchasing.create_vbp_contract(ctx, MANAGER, c.CreateVbpContract(
        AMLO, Decimal("0.5000"), 28_000, today() - timedelta(days=10), today() + timedelta(days=355)))  # fmt: skip
    purchasing.record_price(ctx, MANAGER, c.RecordPrice("listed", AMLO2, Decimal("0.9000"), today() - timedelta(days=3)))
    placed = purchasing.create_purchase_order(ctx, MANAGER, c.CreatePurchaseOrder(DIST.tax_id, (c.PurchaseLine(AMLO, 280),)))
    assert placed["status"] == "placed" and placed["lines"][0]["unit_price"] == "0.5000" and placed["lines"][0]["basis"] == "vbp"
    with pytest.raises(InvalidInput) as exc:
        purchasing.create_purchase_order(ctx, MANAGER, c.CreatePurchaseOrder(DIST.tax_id, (c.PurchaseLine(AMLO2, 70),)))
    assert "justification" in exc.value.fields
    po = purchasing.create_purchase_order(ctx, MANAGER, c.CreatePurchaseOrder(
        DIST.tax_id, (c.PurchaseLine(AMLO2, 70),), "患者对中选品种过敏"))  # fmt: skip
    assert po["status"] == "pending_approval" and po["total"] == Decimal("63.00")
    with pytest.raises(Forbidden):
        purchasing.approve_purchase_order(ctx, MANAGER, c.ApprovePurchaseOrder(po["id"]))
    assert purchasing.approve_purchase_order(ctx, MANAGER2, c.ApprovePurchaseOrder(po["id"]))["status"] == "placed"
    with pytest.raises(InvalidInput) as exc:
        purchasing.create_purchase_order(ctx, MANAGER, c.CreatePurchaseOrder(DIST.tax_id, (c.PurchaseLine(AMOX, 24),)))
    assert "lines[0].item_code" in exc.value.fields  # no price known


def test_vbp_progress_counts_receipts_not_transfers(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    contract = purchasing.create_vbp_contract(ctx, MANAGER, c.CreateVbpContract(
        AMLO, Decimal("0.5000"), 1_000, today() - timedelta(days=182), today() + timedelta(days=182), Decimal("1.5000")))  # fmt: skip
    with pytest.raises(Conflict):
        purchasing.create_vbp_contract(ctx, MANAGER, c.CreateVbpContract(AMLO, Decimal("0.5"), 10, today(), today()))
    assert receiving.book_receipt(ctx, KEEPER_T01, c.BookReceipt(clean_receipt(line(code=AMLO, qty=280, price="0.5000"), site="T01"))).ok
    stock.create_transfer(ctx, KEEPER_T01, c.CreateTransfer("T01", "T02", AMLO, 56))
    ctx.extras["procurement_policy"] = ProcurementPolicy()
    with ctx.factory() as session:
        (p,) = queries.vbp_progress(session, today(), ProcurementPolicy())
    assert p["contract_id"] == contract["id"] and p["accepted_quantity"] == 280 and p["completion"] == Decimal("0.28")
    assert p["status"] == "at_risk" and p["retained_savings"] == Decimal("140.00")  # (1.5-0.5)*280*0.5


def test_transfers_at_cost_and_settlement_sums_to_zero(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    _deliver_to(ctx, "T01", 240)
    _deliver_to(ctx, "T02", 48, batch="B2400")
    with pytest.raises(Forbidden):
        stock.create_transfer(ctx, KEEPER_T02, c.CreateTransfer("T01", "T02", AMOX, 24))
    with pytest.raises(Conflict) as exc:
        stock.create_transfer(ctx, KEEPER_T01, c.CreateTransfer("T01", "T02", AMOX, 241))
    assert "quantity" in exc.value.fields
    t1 = stock.create_transfer(ctx, KEEPER_T01, c.CreateTransfer("T01", "T02", AMOX, 100, "调剂"))
    assert t1["value"] == Decimal("123.0000")
    stock.create_transfer(ctx, MANAGER, c.CreateTransfer("T02", "T01", AMOX, 10))
    with ctx.factory() as session:
        statement = queries.settlement(session, today().strftime("%Y-%m"), None)
    assert statement["total"] == 0
    pay = {(e["site_code"], e["counterparty"]): e["payable"] for e in statement["entries"]}
    assert pay == {("T01", "T02"): Decimal("-110.70"), ("T02", "T01"): Decimal("110.70")}
    with ctx.factory() as session:
        lots = {(r["site_code"], r["batch_no"]): r["balance"] for r in site_lots(session)}
    # Same expiry: FEFO then takes the lower batch number, so T02 gives back B2311.
    assert lots == {("T01", "B2311"): 150, ("T02", "B2311"): 90, ("T02", "B2400"): 48}


def test_prescriptions_consume_site_stock_once(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    _deliver_to(ctx, "T01", 48)
    data = {"prescription_id": "RX-1", "site_code": "T01", "pharmacist": "张药师", "approved_at": "2026-11-30T08:00:00+08:00",
            "lines": [{"item_code": AMOX, "quantity": 30}]}  # fmt: skip
    assert publish(ctx, "review.prescription.approved", data)
    assert publish(ctx, "review.prescription.approved", data)  # a re-published approval (new event id)
    publish(ctx, "review.prescription.approved", {**data, "prescription_id": "RX-2"})
    with ctx.factory() as session:
        lots = {r["batch_no"]: r["balance"] for r in site_lots(session, "T01")}
        assert lots == {"B2311": 0, "": -12}  # 60 dispensed, 48 on the books: a count is due
        stock_view = queries.site_stock(session, "T01", __import__("shared.clock", fromlist=["utcnow"]).utcnow(), ProcurementPolicy())
    (item,) = stock_view["items"]
    assert item["consumed"] == 60 and item["avg_daily"] == 2.0 and item["suggested"] == 48  # 2/day × 9 days = 18 + 12 short
    stock.adjust_site_stock(ctx, KEEPER_T01, c.AdjustSiteStock("T01", AMOX, "count", 5, "月末盘点"))
    with ctx.factory() as session:
        assert sum(r["balance"] for r in site_lots(session, "T01")) == 5
    with pytest.raises(InvalidInput):
        stock.adjust_site_stock(ctx, KEEPER_T01, c.AdjustSiteStock("T01", AMOX, "count", 5, " "))
    with pytest.raises(Forbidden):
        stock.adjust_site_stock(ctx, KEEPER_T02, c.AdjustSiteStock("T01", AMOX, "dispense", 1, "x"))


def test_recall_traces_batches_and_trace_codes(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    stock_central(ctx, line(batch="RC1", qty=240, trace=("81234567890123456789",)))
    req = requisitions.create_requisition(ctx, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(AMOX, 48),), submit=True))
    requisitions.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    requisitions.pick_requisition(ctx, MANAGER, c.PickRequisition(req["id"]))
    requisitions.ship_requisition(ctx, MANAGER, c.ShipRequisition(req["id"]))
    requisitions.receive_requisition(ctx, KEEPER_T01, c.ReceiveRequisition(req["id"], (ReceivedLine(AMOX, "RC1", 48),)))
    stock.create_transfer(ctx, KEEPER_T01, c.CreateTransfer("T01", "T03", AMOX, 12))
    with ctx.factory() as session:
        by_batch = queries.recall(session, AMOX, "RC1", None)
        by_code = queries.recall(session, "", None, "81234567890123456789")
    (batch,) = by_batch["batches"]
    assert batch["central"][0]["balance"] == 192
    assert [(s["site_code"], s["on_hand"], sum(r["quantity"] for r in s["received"])) for s in batch["sites"]] == [
        ("T01", 36, 48), ("T03", 12, 12)]  # fmt: skip
    assert by_code["batches"][0]["batch_no"] == "RC1"
    with ctx.factory() as session:
        site_rows = session.execute(select(T["site_lots"].c.trace_codes).where(T["site_lots"].c.site_code == "T01")).scalars().all()
    assert site_rows == [["81234567890123456789"]]


def test_near_expiry_alerts(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    from services.procurement.store.stock import add_central_lot
    from shared.clock import utcnow
    from shared.db import unit_of_work

    with unit_of_work(ctx.factory) as session:
        add_central_lot(session, AMOX, "NEAR", today() + timedelta(days=60), Decimal("1"), 24, "seed", (), utcnow())
        add_central_lot(session, AMOX, "FAR", today() + timedelta(days=600), Decimal("1"), 24, "seed", (), utcnow())
    _deliver_to(ctx, "T01", 24)
    with ctx.factory() as session:
        alerts = queries.expiry_alerts(session, today(), 6, None)
        none_for_site = queries.expiry_alerts(session, today(), 6, "T01")
    assert [(a["where"], a["batch_no"]) for a in alerts] == [("central", "NEAR")] and none_for_site == []


def test_contract_by_generic_form_and_strength_covers_every_product_of_the_key(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    with pytest.raises(InvalidInput) as exc:
        purchasing.create_vbp_contract(ctx, MANAGER, c.CreateVbpContract(
            None, Decimal("0.3000"), 1_000, today(), today() + timedelta(days=30), None, "氨氯地平", "片剂", "10mg"))  # fmt: skip
    assert "generic_name" in exc.value.fields
    contract = purchasing.create_vbp_contract(ctx, MANAGER, c.CreateVbpContract(
        None, Decimal("0.3000"), 1_000, today() - timedelta(days=10), today() + timedelta(days=355), None, "氨氯地平", "片剂", "5mg"))  # fmt: skip
    assert contract["item_code"] is None and contract["generic_name"] == "氨氯地平"
    with pytest.raises(Conflict):  # the item-level contract would overlap the generic one
        purchasing.create_vbp_contract(ctx, MANAGER, c.CreateVbpContract(AMLO2, Decimal("0.3"), 10, today(), today()))
    over = receiving.check_only(ctx, MANAGER, clean_receipt(line(code=AMLO2, qty=7, price="0.4000")))
    assert {v.code for v in over.violations} == {"PRICE_ABOVE_CONTRACT"}
    assert receiving.book_receipt(ctx, MANAGER, c.BookReceipt(clean_receipt(line(code=AMLO2, qty=70, price="0.3000"),
                                                                            line(code=AMLO, qty=280, price="0.3000")))).ok
    with ctx.factory() as session:
        (p,) = queries.vbp_progress(session, today(), ProcurementPolicy())
        applied = purchasing.price_for(session, AMLO2, today())
    assert p["item_code"] is None and p["accepted_quantity"] == 350 and p["non_vbp_share"] == 0
    assert applied is not None and (applied.price, applied.basis) == (Decimal("0.3000"), "vbp")
    placed = purchasing.create_purchase_order(ctx, MANAGER, c.CreatePurchaseOrder(DIST.tax_id, (c.PurchaseLine(AMLO2, 70),)))
    assert placed["status"] == "placed"  # a product of the contracted key is not a non-selected product
