"""The procurement service's own tables (SQLAlchemy Core); statements live beside them in store/.

Money columns are Numeric(14, 4) yuan; quantities are integers in the item's smallest
dispensing unit. Lot balances carry a CHECK (balance >= 0) as the last line of defence behind
the row locks taken on allocation.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

from shared.db import UtcDateTime

MONEY = Numeric(14, 4)  # unit prices and costs (the API caps a unit price at 1,000,000 yuan)
TOTAL = Numeric(20, 4)  # sums: up to 500 lines × 10,000,000 units × 1,000,000 yuan
ID = BigInteger().with_variant(Integer(), "sqlite")


def add_procurement_tables(metadata: MetaData) -> None:
    """Define every table the procurement service owns in `metadata`."""
    Table(
        "distributors", metadata,
        Column("tax_id", String(18), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("all_items", Boolean, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
    )  # fmt: skip
    Table(
        "distributor_items", metadata,
        Column("tax_id", String(18), ForeignKey("distributors.tax_id"), primary_key=True),
        Column("item_code", String(40), primary_key=True),
    )  # fmt: skip
    Table(
        "manufacturers", metadata,
        Column("tax_id", String(18), primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("created_at", UtcDateTime(), nullable=False),
    )  # fmt: skip
    Table(
        "manufacturer_agents", metadata,
        Column("tax_id", String(18), primary_key=True),
        Column("manufacturer_tax_id", String(18), ForeignKey("manufacturers.tax_id"), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("kind", String(20), nullable=False),
    )  # fmt: skip
    Table(
        "vbp_contracts", metadata,
        Column("id", String(40), primary_key=True),
        Column("item_code", String(40), nullable=True, index=True),  # NULL: the contract names a generic key
        Column("generic_name", String(200), nullable=True),
        Column("dosage_form", String(60), nullable=True),
        Column("strength", String(60), nullable=True),
        Column("price", MONEY, nullable=False),
        Column("agreed_quantity", Integer, nullable=False),
        Column("start", Date, nullable=False),
        Column("end", Date, nullable=False),
        Column("baseline_price", MONEY, nullable=True),
        Column("created_by", String(120), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
    )  # fmt: skip
    for name in ("listed_prices", "negotiated_prices"):
        Table(
            name, metadata,
            Column("id", ID, primary_key=True, autoincrement=True),
            Column("item_code", String(40), nullable=False, index=True),
            Column("price", MONEY, nullable=False),
            Column("effective_from", Date, nullable=False),
            Column("effective_to", Date, nullable=True),
            Column("national_negotiated", Boolean, nullable=False, default=False),
            Column("note", String(500), nullable=True),
            Column("recorded_by", String(120), nullable=False),
            Column("recorded_at", UtcDateTime(), nullable=False),
        )  # fmt: skip
    Table(
        "requisitions", metadata,
        Column("id", String(40), primary_key=True),
        Column("site_code", String(40), nullable=False, index=True),
        Column("status", String(12), nullable=False, index=True),
        Column("version", Integer, nullable=False),
        Column("urgent", Boolean, nullable=False),
        Column("urgent_reason", String(500), nullable=True),
        Column("note", String(500), nullable=True),
        Column("created_by", String(120), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
        Column("decided_by", String(120), nullable=True),
        Column("decision_reason", String(500), nullable=True),
        Column("shipment_id", String(60), nullable=True, unique=True),
        Column("plan_id", String(60), nullable=True),
        Column("expected_at", UtcDateTime(), nullable=True),
        Column("delivered_at", UtcDateTime(), nullable=True),
        Column("delivered_to", String(120), nullable=True),
        Column("received_at", UtcDateTime(), nullable=True),
        Column("received_by", String(120), nullable=True),
        Column("idempotency_key", String(200), nullable=True),
        UniqueConstraint("created_by", "idempotency_key", name="uq_requisitions_created_by_key"),
    )  # fmt: skip
    Table(
        "requisition_lines", metadata,
        Column("requisition_id", String(40), ForeignKey("requisitions.id"), primary_key=True),
        Column("line_no", Integer, primary_key=True),
        Column("item_code", String(40), nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("approved_quantity", Integer, nullable=True),
        Column("cut_reason", String(500), nullable=True),
    )  # fmt: skip
    Table(
        "central_lots", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("item_code", String(40), nullable=False),
        Column("batch_no", String(60), nullable=False),
        Column("expiry", Date, nullable=False),
        Column("unit_cost", MONEY, nullable=False),
        Column("balance", Integer, nullable=False),
        Column("received_quantity", Integer, nullable=False),
        Column("receipt_id", String(40), nullable=True),
        Column("trace_codes", JSON, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        Index("ix_central_lots_item_expiry", "item_code", "expiry"),
        Index("ix_central_lots_batch", "item_code", "batch_no"),
    )  # fmt: skip
    Table(
        "central_movements", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("lot_id", ID, ForeignKey("central_lots.id"), nullable=False, index=True),
        Column("kind", String(20), nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("ref", String(60), nullable=True, index=True),
        Column("reason", String(500), nullable=True),
        Column("at", UtcDateTime(), nullable=False),
    )  # fmt: skip
    Table(
        "allocations", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("requisition_id", String(40), ForeignKey("requisitions.id"), nullable=False, index=True),
        Column("item_code", String(40), nullable=False),
        Column("lot_id", ID, ForeignKey("central_lots.id"), nullable=False),
        Column("batch_no", String(60), nullable=False),
        Column("expiry", Date, nullable=False),
        Column("unit_cost", MONEY, nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("received_quantity", Integer, nullable=True),
        Column("discrepancy", String(20), nullable=True),
        Column("note", String(500), nullable=True),
    )  # fmt: skip
    Table(
        "site_lots", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("site_code", String(40), nullable=False),
        Column("item_code", String(40), nullable=False),
        Column("batch_no", String(60), nullable=False),  # "" = unlotted (dispensed beyond the books)
        Column("expiry", Date, nullable=True),
        Column("unit_cost", MONEY, nullable=False),
        Column("balance", Integer, nullable=False),
        Column("trace_codes", JSON, nullable=False),
        UniqueConstraint("site_code", "item_code", "batch_no", name="uq_site_lots_site_item_batch"),
    )  # fmt: skip
    Table(
        "site_movements", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("site_code", String(40), nullable=False),
        Column("item_code", String(40), nullable=False),
        Column("batch_no", String(60), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("ref", String(60), nullable=True),
        Column("reason", String(500), nullable=True),
        Column("actor", String(120), nullable=True),
        Column("at", UtcDateTime(), nullable=False),
        Index("ix_site_movements_site_item_at", "site_code", "item_code", "at"),
        Index("ix_site_movements_batch", "item_code", "batch_no"),
    )  # fmt: skip
    Table(
        "consumed_prescriptions", metadata,
        Column("prescription_id", String(80), primary_key=True),
        Column("site_code", String(40), nullable=False),
        Column("at", UtcDateTime(), nullable=False),
    )  # fmt: skip
    Table(
        "receipts", metadata,
        Column("id", String(40), primary_key=True),
        Column("site_code", String(40), nullable=False),
        Column("supplier_tax_id", String(18), nullable=False),
        Column("remote_area", Boolean, nullable=False),
        Column("received_on", Date, nullable=False),
        Column("total", TOTAL, nullable=False),
        Column("paid_on", Date, nullable=True),
        Column("invoices", JSON, nullable=False),
        Column("created_by", String(120), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
    )  # fmt: skip
    Table(
        "receipt_lines", metadata,
        Column("receipt_id", String(40), ForeignKey("receipts.id"), primary_key=True),
        Column("line_no", Integer, primary_key=True),
        Column("item_code", String(40), nullable=False, index=True),
        Column("batch_no", String(60), nullable=False),
        Column("expiry", Date, nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("unit_price", MONEY, nullable=False),
        Column("trace_codes", JSON, nullable=False),
    )  # fmt: skip
    Table(
        "purchase_orders", metadata,
        Column("id", String(40), primary_key=True),
        Column("distributor_tax_id", String(18), ForeignKey("distributors.tax_id"), nullable=False),
        Column("status", String(20), nullable=False),
        Column("justification", String(1000), nullable=True),
        Column("created_by", String(120), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("approved_by", String(120), nullable=True),
        Column("approved_at", UtcDateTime(), nullable=True),
        Column("lines", JSON, nullable=False),
        Column("total", TOTAL, nullable=False),
    )  # fmt: skip
    Table(
        "transfers", metadata,
        Column("id", String(40), primary_key=True),
        Column("from_site", String(40), nullable=False),
        Column("to_site", String(40), nullable=False),
        Column("item_code", String(40), nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("value", TOTAL, nullable=False),
        Column("day", Date, nullable=False, index=True),
        Column("lots", JSON, nullable=False),
        Column("reason", String(500), nullable=True),
        Column("created_by", String(120), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
    )  # fmt: skip
