"""Typed commands the use cases take (built by the API's marshmallow schemas, or by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.procurement.model.invoices import Receipt
from services.procurement.model.requisition import OrderLine, ReceivedLine


@dataclass(frozen=True)
class CreateRequisition:
    """A site's new requisition (draft, or submitted at once when `submit`)."""

    site_code: str
    lines: tuple[OrderLine, ...]
    urgent: bool = False
    urgent_reason: str | None = None
    note: str | None = None
    submit: bool = False


@dataclass(frozen=True)
class SubmitRequisition:
    """Send a draft to the central pharmacy."""

    requisition_id: str


@dataclass(frozen=True)
class ApprovedLine:
    """The quantity approved for one item; a cut needs a reason."""

    item_code: str
    approved_quantity: int
    reason: str | None = None


@dataclass(frozen=True)
class ApproveRequisition:
    """Approve (cutting lines as given; lines not named are approved in full) and allocate FEFO."""

    requisition_id: str
    lines: tuple[ApprovedLine, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class RejectRequisition:
    """Refuse a submitted requisition."""

    requisition_id: str
    reason: str


@dataclass(frozen=True)
class PickRequisition:
    """The picked goods are packed: procurement.shipment.ready goes to dispatch."""

    requisition_id: str


@dataclass(frozen=True)
class ShipRequisition:
    """Hand the goods over without a dispatch route (the site collects, 自提)."""

    requisition_id: str


@dataclass(frozen=True)
class ReceiveRequisition:
    """The site's count of each shipped lot."""

    requisition_id: str
    lines: tuple[ReceivedLine, ...]


@dataclass(frozen=True)
class Agent:
    """A manufacturer's wholly-owned sales subsidiary or import general agent."""

    name: str
    tax_id: str
    kind: str


@dataclass(frozen=True)
class RegisterDistributor:
    """An authorised distributor (统一配送企业); items None = all items."""

    name: str
    tax_id: str
    items: tuple[str, ...] | None


@dataclass(frozen=True)
class RegisterManufacturer:
    """A manufacturer and its agents."""

    name: str
    tax_id: str
    agents: tuple[Agent, ...] = ()


@dataclass(frozen=True)
class CreateVbpContract:
    """A 带量采购 contract year for one item, or (item_code None) for a generic + form + strength."""

    item_code: str | None
    price: Decimal
    agreed_quantity: int
    start: date
    end: date
    baseline_price: Decimal | None = None
    generic_name: str | None = None
    dosage_form: str | None = None
    strength: str | None = None


@dataclass(frozen=True)
class RecordPrice:
    """A listed (挂网) or negotiated (二次议价) price; `national_negotiated` only for listed prices."""

    kind: str  # "listed" | "negotiated"
    item_code: str
    price: Decimal
    effective_from: date
    effective_to: date | None = None
    national_negotiated: bool = False
    note: str | None = None


@dataclass(frozen=True)
class BookReceipt:
    """Check a delivery and, when clean, book it (or only check when `dry_run`)."""

    receipt: Receipt
    dry_run: bool = False


@dataclass(frozen=True)
class RecordPayment:
    """The day a receipt's invoice was paid."""

    receipt_id: str
    paid_on: date


@dataclass(frozen=True)
class PurchaseLine:
    """One item to buy, in dispensing units."""

    item_code: str
    quantity: int


@dataclass(frozen=True)
class CreatePurchaseOrder:
    """An order to a distributor at the applicable prices."""

    distributor_tax_id: str
    lines: tuple[PurchaseLine, ...]
    justification: str | None = None


@dataclass(frozen=True)
class ApprovePurchaseOrder:
    """Approve an order that buys non-selected products of a generic under an incomplete VBP contract."""

    purchase_order_id: str


@dataclass(frozen=True)
class AdjustSiteStock:
    """Manual dispensing (quantity taken) or a stock count (quantity counted) at a site, with a reason."""

    site_code: str
    item_code: str
    kind: str  # "dispense" | "count"
    quantity: int
    reason: str
    batch_no: str | None = None


@dataclass(frozen=True)
class CreateTransfer:
    """调剂: move stock from one member site to another at cost."""

    from_site: str
    to_site: str
    item_code: str
    quantity: int
    reason: str | None = None
