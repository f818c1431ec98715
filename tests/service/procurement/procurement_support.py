"""Helpers of procurement's use-case tests: a small county fed through formulary events, receipts, principals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from services.procurement.app import SPEC
from services.procurement.model import commands as c
from services.procurement.model.invoices import Invoice, InvoiceLine, Party, Receipt, ReceiptLine
from services.procurement.service import purchasing, receiving
from shared.auth import Principal
from shared.clock import LOCAL_TZ, utcnow
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, handle_event

MANAGER = Principal("mgr-1", ("pharmacy_manager",), name="中心药房主任")
MANAGER2 = Principal("mgr-2", ("pharmacy_manager",), name="副主任")
KEEPER_T01 = Principal("sk-t01", ("storekeeper",), site="T01", name="苟村库管")
KEEPER_T02 = Principal("sk-t02", ("storekeeper",), site="T02", name="天宫庙库管")
KEEPER_AND_MANAGER = Principal("sk-mix", ("storekeeper", "pharmacy_manager"), site="T01")

HUB = {"code": "H001", "name": "成武县人民医院", "tax_id": "12371723MB0001234X", "level": "county_hospital", "is_hub": True}
TOWNS = [
    {"code": "T01", "name": "苟村集镇卫生院", "tax_id": "12371723MB0002001A", "level": "township", "is_hub": False},
    {"code": "T02", "name": "天宫庙镇卫生院", "tax_id": "12371723MB0002002B", "level": "township", "is_hub": False},
    {"code": "T03", "name": "汶上集镇卫生院", "tax_id": "12371723MB0002003C", "level": "township", "is_hub": False},
]
MAKER = Party("齐鲁制药有限公司", "913700001630000001")
SUBSIDIARY = Party("齐鲁制药销售有限公司", "913700001630000002")
DIST = Party("国药控股菏泽有限公司", "913717000000000011")
DIST2 = Party("华润菏泽医药有限公司", "913717000000000022")
OTHER = Party("单县中心医院", "12371722MB0009999Y")
BUYER = Party(HUB["name"], HUB["tax_id"])

AMOX, INSULIN, AMLO, AMLO2 = "YP000100", "YP000200", "YP000300", "YP000301"
ITEMS: list[dict[str, Any]] = [
    {"code": AMOX, "generic_name": "阿莫西林", "dosage_form": "胶囊剂", "strength": "0.25g", "package_size": 24,
     "storage": "ambient", "volume_cm3": 120, "weight_g": 60, "vbp": False},
    {"code": INSULIN, "generic_name": "胰岛素", "dosage_form": "注射剂", "strength": "3ml:300单位", "package_size": 1,
     "storage": "cold", "volume_cm3": 40, "weight_g": 30, "vbp": False},
    {"code": AMLO, "generic_name": "氨氯地平", "dosage_form": "片剂", "strength": "5mg", "package_size": 28,
     "storage": "ambient", "volume_cm3": 50, "weight_g": 20, "vbp": True},
    {"code": AMLO2, "generic_name": "氨氯地平", "dosage_form": "片剂", "strength": "5mg", "package_size": 7,
     "storage": "ambient", "volume_cm3": 20, "weight_g": 10, "vbp": False},
]  # fmt: skip


def item_snapshot(spec: dict[str, Any], version: int = 1, status: str = "active") -> dict[str, Any]:
    """A formulary.item.published payload."""
    return {
        "code": spec["code"], "version": version, "catalogue_version": version, "kind": "drug", "status": status,
        "generic_name": spec["generic_name"], "generic_name_en": None, "trade_name": None,
        "dosage_form": spec["dosage_form"], "strength": spec["strength"], "unit": "粒", "package_size": spec["package_size"],
        "package_unit": "盒", "manufacturer": MAKER.name, "approval_no": None, "nhsa_code": None, "atc_code": None,
        "essential": True, "reimbursement": "甲", "vbp": spec["vbp"], "vbp_batch": "第九批" if spec["vbp"] else None,
        "storage": spec["storage"], "controlled": "none", "antibiotic_tier": "none", "high_alert": False,
        "volume_cm3": spec["volume_cm3"], "weight_g": spec["weight_g"], "category": None,
    }  # fmt: skip


def publish(ctx: ServiceContext, event_type: str, data: dict[str, Any]) -> bool:
    """Deliver one event to procurement's handlers as the bus would."""
    return handle_event(SPEC, ctx, new_event(event_type, data, source="/countyhub/test"))


def load_reference(ctx: ServiceContext) -> None:
    """Sites, items and the township stocking list, as formulary events."""
    for i, site in enumerate([HUB, *TOWNS]):
        publish(ctx, "formulary.site.upserted", {
            **site, "version": 1, "catalogue_version": 1, "parent_code": None if site["is_hub"] else "H001",
            "lat": 34.95 + i / 100, "lon": 115.9 + i / 100, "receiving_hours": [{"start": "08:00", "end": "17:00"}],
            "active": True,
        })  # fmt: skip
    for spec in ITEMS:
        publish(ctx, "formulary.item.published", item_snapshot(spec))
    publish(ctx, "formulary.stocklist.changed", {"scope": "level", "level": "township", "site_code": None,
                                                 "catalogue_version": 1, "item_codes": [AMOX, INSULIN, AMLO]})  # fmt: skip
    purchasing.register_distributor(ctx, MANAGER, c.RegisterDistributor(DIST.name, DIST.tax_id, None))
    purchasing.register_distributor(ctx, MANAGER, c.RegisterDistributor(DIST2.name, DIST2.tax_id, (AMOX,)))
    purchasing.register_manufacturer(
        ctx, MANAGER, c.RegisterManufacturer(MAKER.name, MAKER.tax_id, (c.Agent(SUBSIDIARY.name, SUBSIDIARY.tax_id, "sales_subsidiary"),))
    )


def today() -> date:
    """Today in the county."""
    return utcnow().astimezone(LOCAL_TZ).date()


def line(code: str = AMOX, batch: str = "B2311", qty: int = 240, price: str = "1.2300",
         expiry: date | None = None, temp: str | None = None, trace: tuple[str, ...] = ()) -> ReceiptLine:  # fmt: skip
    """A receipt line (expiry two years out by default)."""
    return ReceiptLine(code, batch, expiry or today() + timedelta(days=730), qty, Decimal(price), temp, trace)


def inv(number: str, issuer: Party, recipient: Party, *lines: ReceiptLine, price: str | None = None) -> Invoice:
    """An invoice covering receipt lines (at their prices unless `price`)."""
    return Invoice(number, issuer, recipient, today(), tuple(
        InvoiceLine(ln.item_code, ln.batch_no, ln.quantity, Decimal(price) if price else ln.unit_price) for ln in lines
    ))  # fmt: skip


def clean_receipt(*lines: ReceiptLine, site: str = "H001") -> Receipt:
    """A clean delivery by DIST with both invoices."""
    lines = lines or (line(),)
    buyer = BUYER if site == "H001" else Party(next(t["name"] for t in TOWNS if t["code"] == site),
                                               next(t["tax_id"] for t in TOWNS if t["code"] == site))  # fmt: skip
    return Receipt(site, DIST.tax_id, False, tuple(lines),
                   (inv("F1", MAKER, DIST, *lines, price="0.5000"), inv("F2", DIST, buyer, *lines)), today())  # fmt: skip


def stock_central(ctx: ServiceContext, *lines: ReceiptLine) -> str:
    """Book a clean receipt into central stock; its id."""
    result = receiving.book_receipt(ctx, MANAGER, c.BookReceipt(clean_receipt(*lines)))
    assert result.ok and result.receipt_id
    return result.receipt_id


def with_(receipt: Receipt, **changes: Any) -> Receipt:
    """dataclasses.replace for receipts."""
    return replace(receipt, **changes)


def outbox_payloads(ctx: ServiceContext, event_type: str) -> list[dict[str, Any]]:
    """The data of every outbox event of a type, oldest first."""
    import json

    from sqlalchemy import select

    from shared.bus.tables import bus_tables

    outbox, _ = bus_tables(ctx.metadata)
    with ctx.factory() as session:
        rows = session.execute(select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.id))
        return [json.loads(envelope)["data"] for (envelope,) in rows]
