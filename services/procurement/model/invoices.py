"""两票制 InvoiceChain: the goods-receipt check of invoices, goods and contract prices (票货同行).

Rule source: 《关于在公立医疗机构药品采购中推行"两票制"的实施意见（试行）》 (国医改办发〔2016〕4号):
one invoice from the manufacturer to the distributor, one from the distributor to the hospital;
a manufacturer's wholly-owned (or controlled) sales subsidiary, or the domestic general agent of
an imported drug, counts as the manufacturer; one more invoice is allowed for deliveries to
remote areas (偏远地区). A manufacturer selling straight to the hospital issues one invoice.
Delivery checks follow GSP (近效期, cold-chain temperature records) and the county's rules.

The invoices' order in the receipt means nothing: every choice below is made from issuers and
recipients, and ties are broken by a canonical sort, so any permutation gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.procurement.model.requisition import ItemFacts

CODES = (
    "FIRST_INVOICE_MISSING", "SECOND_INVOICE_MISSING", "FIRST_ISSUER_NOT_MANUFACTURER", "INVOICE_CHAIN_BROKEN",
    "SECOND_INVOICE_NOT_TO_BUYER", "SUPPLIER_NOT_SECOND_ISSUER", "TOO_MANY_INVOICES", "BATCH_NOT_INVOICED",
    "QUANTITY_EXCEEDS_INVOICED", "PRICE_MISMATCH", "PRICE_ABOVE_CONTRACT", "DISTRIBUTOR_NOT_AUTHORIZED",
    "ITEM_NOT_IN_FORMULARY", "SHORT_EXPIRY", "COLD_CHAIN_RECORD_MISSING",
)  # fmt: skip


def norm_tax_id(value: str) -> str:
    """统一社会信用代码 compared case- and space-insensitively."""
    return value.strip().upper()


@dataclass(frozen=True)
class Party:
    """An invoice's issuer or recipient."""

    name: str
    tax_id: str


@dataclass(frozen=True)
class InvoiceLine:
    """One invoiced item and batch: quantity in dispensing units, unit price in yuan."""

    item_code: str
    batch_no: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Invoice:
    """One VAT invoice (增值税发票) in the chain."""

    number: str
    issuer: Party
    recipient: Party
    issued_at: date
    lines: tuple[InvoiceLine, ...]

    @property
    def sort_key(self) -> tuple[str, str, str, str, str]:
        """Canonical order used to break ties, independent of the list order."""
        lines = repr(sorted((ln.item_code, ln.batch_no, ln.quantity, str(ln.unit_price)) for ln in self.lines))
        return (
            norm_tax_id(self.issuer.tax_id), norm_tax_id(self.recipient.tax_id), self.number,
            self.issued_at.isoformat(), lines,
        )

    def mentions(self, item_code: str) -> bool:
        """True if the invoice carries a line of the item."""
        return any(line.item_code == item_code for line in self.lines)


@dataclass(frozen=True)
class ReceiptLine:
    """One delivered item and batch."""

    item_code: str
    batch_no: str
    expiry: date
    quantity: int
    unit_price: Decimal
    temperature_record: str | None = None
    trace_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """A delivery to a site of the community, with its invoices (see the issue's JSON shape)."""

    site_code: str
    supplier_tax_id: str
    remote_area: bool
    lines: tuple[ReceiptLine, ...]
    invoices: tuple[Invoice, ...]
    received_on: date


@dataclass(frozen=True)
class Manufacturer:
    """A registered manufacturer and its declared agents (wholly-owned sales subsidiaries, import general agents)."""

    name: str
    tax_id: str
    agent_tax_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CheckFacts:
    """Everything the check needs besides the receipt; gathered by the store, no I/O here.

    `authorized` maps a distributor tax id to its item codes, or None for "all"; a supplier
    missing from it is not authorised. `contract_prices` maps item codes to the VBP winning
    price or the negotiated price in force on the receipt date. `short_expiry_months` is the
    least remaining shelf life accepted at receipt (default 6, configurable); `today`, when
    given, also makes any line already expired by that day SHORT_EXPIRY.
    """

    buyer_tax_id: str
    items: Mapping[str, ItemFacts]
    manufacturers: Mapping[str, Manufacturer]
    authorized: Mapping[str, frozenset[str] | None]
    contract_prices: Mapping[str, Decimal]
    short_expiry_months: int = 6
    today: date | None = None  # when set, a line already expired by today is SHORT_EXPIRY whatever received_on says


@dataclass(frozen=True, order=True)
class Violation:
    """One broken rule: a stable code, the receipt line index (None for the whole receipt), a message."""

    line: int
    code: str
    message: str = field(compare=True)

    def as_dict(self) -> dict[str, object]:
        """The API shape {code, line, message}; line is null for receipt-wide violations."""
        return {"code": self.code, "line": None if self.line < 0 else self.line, "message": self.message}


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (2026-08-31 + 6 → 2027-02-28)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    if year > date.max.year:
        return date.max
    if year < date.min.year:
        return date.min
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _is_manufacturer(party: Party, item: ItemFacts, facts: CheckFacts) -> bool:
    registered = facts.manufacturers.get(item.manufacturer or "")
    if registered is not None:
        tax = norm_tax_id(party.tax_id)
        return tax == norm_tax_id(registered.tax_id) or tax in registered.agent_tax_ids
    # Not registered with procurement: the formulary's manufacturer name must match exactly.
    return item.manufacturer is not None and party.name.strip() == item.manufacturer.strip()


@dataclass(frozen=True)
class _Prepared:
    """An invoice with what the check keeps asking of it, computed once (canonical order, item set)."""

    idx: int
    invoice: Invoice
    issuer: str
    recipient: str
    items: frozenset[str]


def _prepare(invoices: Sequence[Invoice]) -> list[_Prepared]:
    ordered = sorted(invoices, key=lambda inv: inv.sort_key)
    return [
        _Prepared(i, inv, norm_tax_id(inv.issuer.tax_id), norm_tax_id(inv.recipient.tax_id),
                  frozenset(line.item_code for line in inv.lines))
        for i, inv in enumerate(ordered)
    ]  # fmt: skip


def _chain_for_item(
    receipt: Receipt, item: ItemFacts, facts: CheckFacts, mine: list[_Prepared]
) -> tuple[list[str], list[_Prepared]]:
    """Chain violation codes for one item and the invoices in second position (to compare lines with).

    `mine` are the invoices carrying the item, in canonical order.
    """
    buyer, supplier = norm_tax_id(facts.buyer_tax_id), norm_tax_id(receipt.supplier_tax_id)
    if not mine:
        return ["FIRST_INVOICE_MISSING", "SECOND_INVOICE_MISSING"], []
    codes: list[str] = []
    issuers = {p.issuer for p in mine}
    to_buyer = [p for p in mine if p.recipient == buyer]
    if to_buyer:
        # Prefer the delivering distributor's invoice when several reach the buyer.
        seconds = to_buyer
        second = ([p for p in to_buyer if p.issuer == supplier] or to_buyer)[0]
    else:
        # The chain's last invoice: the delivering distributor's, else one that continues a chain, else the first.
        ends = [p for p in mine if p.recipient not in issuers] or mine

        def continues(p: _Prepared) -> bool:
            return any(q.recipient == p.issuer for q in mine if q.idx != p.idx)

        sink = next((p for p in ends if p.issuer == supplier), None) or next((p for p in ends if continues(p)), ends[0])
        has_predecessor = continues(sink)
        if sink.recipient != supplier and (sink.issuer == supplier or has_predecessor):
            codes.append("SECOND_INVOICE_NOT_TO_BUYER")
            second, seconds = sink, [sink]
        else:
            codes.append("SECOND_INVOICE_MISSING")
            chain = _walk_back(sink, mine)
            if not _is_manufacturer(chain[0].invoice.issuer, item, facts):
                codes.append("FIRST_ISSUER_NOT_MANUFACTURER")
            if len(chain) + 1 > _allowed(receipt):
                codes.append("TOO_MANY_INVOICES")
            return codes, []
    if second.issuer != supplier:
        codes.append("SUPPLIER_NOT_SECOND_ISSUER")
    chain = _walk_back(second, mine)
    if len(chain) == 1:
        if not _is_manufacturer(second.invoice.issuer, item, facts):
            in_second = {p.idx for p in seconds} | {second.idx}
            upstream = [p for p in mine if p.idx not in in_second]
            codes.append("INVOICE_CHAIN_BROKEN" if upstream else "FIRST_INVOICE_MISSING")
            heads = [_walk_back(p, upstream)[0] for p in upstream]
            if heads and not any(_is_manufacturer(h.invoice.issuer, item, facts) for h in heads):
                # Broken, and no upstream invoice starts at the manufacturer either.
                codes.append("FIRST_ISSUER_NOT_MANUFACTURER")
    else:
        if not _is_manufacturer(chain[0].invoice.issuer, item, facts):
            codes.append("FIRST_ISSUER_NOT_MANUFACTURER")
        if len(chain) > _allowed(receipt):
            codes.append("TOO_MANY_INVOICES")
    return codes, seconds


def _allowed(receipt: Receipt) -> int:
    return 3 if receipt.remote_area else 2


def _walk_back(last: _Prepared, invoices: Sequence[_Prepared]) -> list[_Prepared]:
    """The chain ending at `last`, earliest first, following recipient == next issuer (no cycles)."""
    chain = [last]
    used = {last.idx}
    while True:
        head = chain[0].issuer
        before = next((p for p in invoices if p.recipient == head and p.idx not in used), None)
        if before is None:
            return chain
        chain.insert(0, before)
        used.add(before.idx)


MESSAGES = {
    "FIRST_INVOICE_MISSING": "no invoice from the manufacturer to the distributor (第一票)",
    "SECOND_INVOICE_MISSING": "no invoice from the distributor to the receiving hospital (第二票)",
    "FIRST_ISSUER_NOT_MANUFACTURER": "the first invoice is not issued by the item's manufacturer or its declared agent",
    "INVOICE_CHAIN_BROKEN": "the first invoice's recipient did not issue the second invoice",
    "SECOND_INVOICE_NOT_TO_BUYER": "the second invoice is not made out to the receiving hospital",
    "SUPPLIER_NOT_SECOND_ISSUER": "the delivering distributor did not issue the second invoice",
    "TOO_MANY_INVOICES": "more invoices in the chain than 两票制 allows",
}


def check_receipt(receipt: Receipt, facts: CheckFacts) -> list[Violation]:
    """Every violation of the receipt, sorted by (line, code, message); empty when it may be booked.

    Per line: ITEM_NOT_IN_FORMULARY stops the line's other checks (nothing is known of the
    item). Chain codes are reported per line for that line's item; invoice-line comparisons
    (batch, quantity, price) are made against the second invoice(s) only, and are skipped when
    there is no second invoice to compare with. Work is shared between lines whose items travel
    on the same invoices, so a 50-line receipt costs little more than a 1-line one.
    """
    out: set[Violation] = set()
    supplier = norm_tax_id(receipt.supplier_tax_id)
    prepared = _prepare(receipt.invoices)
    chains: dict[tuple[tuple[int, ...], str | None], tuple[list[str], list[_Prepared]]] = {}
    invoiced: dict[tuple[int, ...], dict[tuple[str, str], tuple[int, set[Decimal]]]] = {}
    delivered: dict[tuple[str, str], int] = {}
    first_line: dict[tuple[str, str], int] = {}
    for i, line in enumerate(receipt.lines):
        key = (line.item_code, line.batch_no)
        delivered[key] = delivered.get(key, 0) + line.quantity
        first_line.setdefault(key, i)
    short_limit = add_months(receipt.received_on, facts.short_expiry_months)
    for i, line in enumerate(receipt.lines):
        item = facts.items.get(line.item_code)
        if item is None or item.status != "active":
            out.add(Violation(i, "ITEM_NOT_IN_FORMULARY", f"{line.item_code} is not an active formulary item"))
            continue
        allowed = facts.authorized.get(supplier, frozenset())
        if supplier not in facts.authorized or (allowed is not None and line.item_code not in allowed):
            out.add(Violation(i, "DISTRIBUTOR_NOT_AUTHORIZED", f"the supplier is not an authorised distributor of {line.item_code}"))
        if line.expiry < short_limit:
            out.add(Violation(i, "SHORT_EXPIRY", f"expires {line.expiry}, less than {facts.short_expiry_months} months away"))
        elif facts.today is not None and line.expiry <= facts.today:
            # A back-dated receipt (received_on long ago) must not book goods that have already expired.
            out.add(Violation(i, "SHORT_EXPIRY", f"expired on {line.expiry}, before today {facts.today}"))
        if item.cold_chain and not (line.temperature_record or "").strip():
            out.add(Violation(i, "COLD_CHAIN_RECORD_MISSING", f"{item.storage} item delivered without a temperature record"))
        contract = facts.contract_prices.get(line.item_code)
        if contract is not None and line.unit_price > contract:
            out.add(Violation(i, "PRICE_ABOVE_CONTRACT", f"{line.unit_price} is above the contract price {contract}"))
        mine = [p for p in prepared if line.item_code in p.items]
        chain_key = (tuple(p.idx for p in mine), item.manufacturer)
        if chain_key not in chains:
            chains[chain_key] = _chain_for_item(receipt, item, facts, mine)
        codes, seconds = chains[chain_key]
        for code in codes:
            out.add(Violation(i, code, MESSAGES[code]))
        if seconds:
            seconds_key = tuple(p.idx for p in seconds)
            if seconds_key not in invoiced:
                invoiced[seconds_key] = _invoiced_lines(seconds)
            out |= _compare_with_invoices(i, line, invoiced[seconds_key], delivered, first_line)
    return sorted(out)


def _invoiced_lines(seconds: Sequence[_Prepared]) -> dict[tuple[str, str], tuple[int, set[Decimal]]]:
    """(item, batch) → (quantity invoiced, unit prices) over the second-position invoices."""
    out: dict[tuple[str, str], tuple[int, set[Decimal]]] = {}
    for p in seconds:
        for il in p.invoice.lines:
            qty, prices = out.get((il.item_code, il.batch_no), (0, set()))
            out[(il.item_code, il.batch_no)] = (qty + il.quantity, prices | {il.unit_price})
    return out


def _compare_with_invoices(
    i: int, line: ReceiptLine, invoiced: Mapping[tuple[str, str], tuple[int, set[Decimal]]],
    delivered: Mapping[tuple[str, str], int], first_line: Mapping[tuple[str, str], int],
) -> set[Violation]:
    out: set[Violation] = set()
    key = (line.item_code, line.batch_no)
    if key not in invoiced:
        out.add(Violation(i, "BATCH_NOT_INVOICED", f"batch {line.batch_no} is not on the second invoice"))
        return out
    total, prices = invoiced[key]
    if first_line[key] == i and delivered[key] > total:
        out.add(Violation(i, "QUANTITY_EXCEEDS_INVOICED", f"{delivered[key]} delivered, {total} invoiced"))
    if line.unit_price not in prices:
        shown = ", ".join(str(p) for p in sorted(prices))
        out.add(Violation(i, "PRICE_MISMATCH", f"delivered at {line.unit_price}, invoiced at {shown}"))
    return out
