"""Small named receipt instances for the 两票制 checks (shared by unit and service tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from services.procurement.model.invoices import (
    CheckFacts,
    Invoice,
    InvoiceLine,
    Manufacturer,
    Party,
    Receipt,
    ReceiptLine,
)
from services.procurement.model.requisition import ItemFacts

TODAY = date(2026, 11, 25)
MAKER = Party("齐鲁制药有限公司", "913700001630000001")
SUBSIDIARY = Party("齐鲁制药销售有限公司", "913700001630000002")
DIST = Party("国药控股菏泽有限公司", "913717000000000011")
DIST2 = Party("华润菏泽医药有限公司", "913717000000000022")
HOSPITAL = Party("成武县人民医院", "12371723MB0001234X")
OTHER = Party("单县中心医院", "12371722MB0009999Y")

ITEM = ItemFacts("YP000100", "阿莫西林", "active", 24, "ambient", 60.0, 30.0, MAKER.name, False, "胶囊", "0.25g")
COLD = ItemFacts("YP000200", "胰岛素", "active", 1, "cold", 20.0, 15.0, MAKER.name, False, "注射液", "3ml:300单位")

FACTS = CheckFacts(
    buyer_tax_id=HOSPITAL.tax_id,
    items={ITEM.code: ITEM, COLD.code: COLD},
    manufacturers={MAKER.name: Manufacturer(MAKER.name, MAKER.tax_id, frozenset({SUBSIDIARY.tax_id}))},
    authorized={DIST.tax_id: None, DIST2.tax_id: frozenset({ITEM.code})},
    contract_prices={ITEM.code: Decimal("1.2300")},
)


def invoice(number: str, issuer: Party, recipient: Party, *lines: InvoiceLine) -> Invoice:
    """An invoice issued on TODAY."""
    return Invoice(number, issuer, recipient, TODAY, tuple(lines))


def iline(code: str = ITEM.code, batch: str = "B2311", qty: int = 240, price: str = "1.2300") -> InvoiceLine:
    """An invoice line."""
    return InvoiceLine(code, batch, qty, Decimal(price))


def rline(code: str = ITEM.code, batch: str = "B2311", qty: int = 240, price: str = "1.2300",
          expiry: date = date(2028, 6, 30), temp: str | None = None) -> ReceiptLine:  # fmt: skip
    """A receipt line."""
    return ReceiptLine(code, batch, expiry, qty, Decimal(price), temp)


def clean() -> Receipt:
    """A clean delivery: maker → distributor → hospital, goods match the second invoice."""
    return Receipt(
        "H001", DIST.tax_id, False, (rline(),),
        (invoice("F1", MAKER, DIST, iline(price="1.0000")), invoice("F2", DIST, HOSPITAL, iline())), TODAY,
    )  # fmt: skip


def with_invoices(receipt: Receipt, *invoices: Invoice) -> Receipt:
    """The receipt with other invoices."""
    return replace(receipt, invoices=tuple(invoices))
