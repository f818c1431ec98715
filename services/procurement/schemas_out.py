"""marshmallow output schemas of the procurement API (documented in the OpenAPI, used to serialise)."""

from __future__ import annotations

from marshmallow import Schema, fields

from services.procurement.schemas import Price


class RequisitionLineOut(Schema):
    line_no = fields.Integer()
    item_code = fields.String()
    quantity = fields.Integer()
    approved_quantity = fields.Integer(allow_none=True)
    cut_reason = fields.String(allow_none=True)


class AllocationOut(Schema):
    item_code = fields.String()
    lot_id = fields.Integer()
    batch_no = fields.String()
    expiry = fields.Date()
    unit_cost = Price()
    quantity = fields.Integer()
    received_quantity = fields.Integer(allow_none=True)
    discrepancy = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class RequisitionOut(Schema):
    id = fields.String()
    site_code = fields.String()
    status = fields.String()
    version = fields.Integer()
    urgent = fields.Boolean()
    urgent_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    shipment_id = fields.String(allow_none=True)
    plan_id = fields.String(allow_none=True)
    expected_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    delivered_to = fields.String(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    received_by = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(RequisitionLineOut))
    allocations = fields.List(fields.Nested(AllocationOut))


class RequisitionSummaryOut(Schema):
    id = fields.String()
    site_code = fields.String()
    status = fields.String()
    urgent = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    expected_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    line_count = fields.Integer()


class RequisitionListOut(Schema):
    requisitions = fields.List(fields.Nested(RequisitionSummaryOut))


class SiteLotOut(Schema):
    batch_no = fields.String()
    expiry = fields.Date(allow_none=True)
    balance = fields.Integer()


class SiteItemOut(Schema):
    item_code = fields.String()
    generic_name = fields.String(allow_none=True)
    package_size = fields.Integer(allow_none=True)
    on_hand = fields.Integer()
    on_order = fields.Integer()
    consumed = fields.Integer()
    avg_daily = fields.Float()
    target = fields.Integer()
    suggested = fields.Integer()
    lots = fields.List(fields.Nested(SiteLotOut))


class SiteStockOut(Schema):
    site_code = fields.String()
    site_name = fields.String()
    items = fields.List(fields.Nested(SiteItemOut))
    policy = fields.Dict(keys=fields.String(), values=fields.Integer())
    next_cursor = fields.String(allow_none=True)  # also in the Link rel="next" header; None on the last page


class MovementOut(Schema):
    item_code = fields.String()
    batch_no = fields.String()
    kind = fields.String()
    quantity = fields.Integer()
    ref = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    at = fields.DateTime()


class HistoryOut(Schema):
    site_code = fields.String()
    movements = fields.List(fields.Nested(MovementOut))


class AdjustmentOut(Schema):
    site_code = fields.String()
    item_code = fields.String()
    lots = fields.List(fields.Nested(SiteLotOut))


class CentralLotOut(Schema):
    id = fields.Integer()
    item_code = fields.String()
    batch_no = fields.String()
    expiry = fields.Date()
    unit_cost = Price()
    balance = fields.Integer()
    received_quantity = fields.Integer()
    receipt_id = fields.String(allow_none=True)
    trace_codes = fields.List(fields.String())


class CentralLotsOut(Schema):
    lots = fields.List(fields.Nested(CentralLotOut))
    next_cursor = fields.String(allow_none=True)  # also in the Link rel="next" header; None on the last page


class TransferLotOut(Schema):
    batch_no = fields.String()
    quantity = fields.Integer()
    unit_cost = fields.String()


class TransferOut(Schema):
    id = fields.String()
    from_site = fields.String()
    to_site = fields.String()
    item_code = fields.String()
    quantity = fields.Integer()
    value = Price()
    day = fields.Date()
    reason = fields.String(allow_none=True)
    lots = fields.List(fields.Nested(TransferLotOut))
    created_by = fields.String()
    created_at = fields.DateTime()


class TransferListOut(Schema):
    transfers = fields.List(fields.Nested(TransferOut))


class SettlementEntryOut(Schema):
    site_code = fields.String()
    counterparty = fields.String()
    payable = Price()
    received_value = Price()
    sent_value = Price()


class SettlementOut(Schema):
    month = fields.String()
    transfers = fields.Integer()
    total = Price()
    site_code = fields.String(allow_none=True)
    site_net = Price(allow_none=True)
    entries = fields.List(fields.Nested(SettlementEntryOut))


class RecallArrivalOut(Schema):
    at = fields.DateTime()
    quantity = fields.Integer()
    kind = fields.String()
    ref = fields.String(allow_none=True)


class RecallSiteOut(Schema):
    site_code = fields.String()
    site_name = fields.String(allow_none=True)
    received = fields.List(fields.Nested(RecallArrivalOut))
    on_hand = fields.Integer()


class RecallCentralOut(Schema):
    lot_id = fields.Integer()
    expiry = fields.Date()
    received_quantity = fields.Integer()
    balance = fields.Integer()
    receipt_id = fields.String(allow_none=True)
    received_at = fields.DateTime()
    trace_codes = fields.List(fields.String())


class RecallBatchOut(Schema):
    item_code = fields.String()
    batch_no = fields.String()
    central = fields.List(fields.Nested(RecallCentralOut))
    sites = fields.List(fields.Nested(RecallSiteOut))


class RecallOut(Schema):
    item_code = fields.String(allow_none=True)
    batch_no = fields.String(allow_none=True)
    trace_code = fields.String(allow_none=True)
    batches = fields.List(fields.Nested(RecallBatchOut))


class AlertOut(Schema):
    where = fields.String()
    item_code = fields.String()
    generic_name = fields.String(allow_none=True)
    batch_no = fields.String()
    expiry = fields.Date()
    balance = fields.Integer()
    expired = fields.Boolean()
    days_left = fields.Integer()


class AlertsOut(Schema):
    months = fields.Integer()
    alerts = fields.List(fields.Nested(AlertOut))


class ViolationOut(Schema):
    code = fields.String()
    line = fields.Integer(allow_none=True)
    message = fields.String()


class CheckOut(Schema):
    ok = fields.Boolean()
    violations = fields.List(fields.Nested(ViolationOut))
    receipt_id = fields.String(allow_none=True)


class ReceiptLineOut(Schema):
    line_no = fields.Integer()
    item_code = fields.String()
    batch_no = fields.String()
    expiry = fields.Date()
    quantity = fields.Integer()
    unit_price = Price()
    trace_codes = fields.List(fields.String())


class ReceiptOut(Schema):
    id = fields.String()
    site_code = fields.String()
    supplier_tax_id = fields.String()
    remote_area = fields.Boolean()
    received_on = fields.Date()
    total = Price()
    paid_on = fields.Date(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    invoices = fields.List(fields.Dict())
    lines = fields.List(fields.Nested(ReceiptLineOut))


class ReceiptSummaryOut(Schema):
    id = fields.String()
    site_code = fields.String()
    supplier_tax_id = fields.String()
    remote_area = fields.Boolean()
    received_on = fields.Date()
    total = Price()
    paid_on = fields.Date(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()


class ReceiptListOut(Schema):
    receipts = fields.List(fields.Nested(ReceiptSummaryOut))


class DistributorOut(Schema):
    tax_id = fields.String()
    name = fields.String()
    all_items = fields.Boolean()
    items = fields.List(fields.String(), allow_none=True)


class DistributorListOut(Schema):
    distributors = fields.List(fields.Nested(DistributorOut))


class AgentOut(Schema):
    name = fields.String()
    tax_id = fields.String()
    kind = fields.String()


class ManufacturerOut(Schema):
    name = fields.String()
    tax_id = fields.String()
    agents = fields.List(fields.Nested(AgentOut))


class ManufacturerListOut(Schema):
    manufacturers = fields.List(fields.Nested(ManufacturerOut))


class ContractOut(Schema):
    id = fields.String()
    item_code = fields.String(allow_none=True)
    generic_name = fields.String(allow_none=True)
    dosage_form = fields.String(allow_none=True)
    strength = fields.String(allow_none=True)
    price = Price()
    agreed_quantity = fields.Integer()
    start = fields.Date()
    end = fields.Date()
    baseline_price = Price(allow_none=True)


class ProgressOut(Schema):
    contract_id = fields.String()
    item_code = fields.String(allow_none=True)
    generic_name = fields.String()
    generic_key = fields.String(allow_none=True)
    price = Price()
    agreed_quantity = fields.Integer()
    start = fields.Date()
    end = fields.Date()
    accepted_quantity = fields.Integer()
    completion = fields.Decimal(as_string=True)
    time_progress = fields.Decimal(as_string=True)
    status = fields.String()
    non_vbp_share = fields.Decimal(as_string=True)
    unpaid_overdue = fields.Integer()
    unpaid_overdue_amount = Price()
    retained_savings = Price()


class ProgressListOut(Schema):
    contracts = fields.List(fields.Nested(ProgressOut))


class PriceRecordOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    item_code = fields.String()
    price = Price()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    national_negotiated = fields.Boolean()
    note = fields.String(allow_none=True)
    recorded_by = fields.String()
    recorded_at = fields.DateTime()


class PricesOut(Schema):
    item_code = fields.String()
    applicable = fields.Dict(allow_none=True)
    listed = fields.List(fields.Nested(PriceRecordOut))
    negotiated = fields.List(fields.Nested(PriceRecordOut))


class PurchaseOrderLineOut(Schema):
    item_code = fields.String()
    quantity = fields.Integer()
    unit_price = fields.String()
    basis = fields.String()
    amount = fields.String()
    needs_justification = fields.Boolean()


class PurchaseOrderOut(Schema):
    id = fields.String()
    distributor_tax_id = fields.String()
    status = fields.String()
    justification = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(PurchaseOrderLineOut))
    total = Price()


class PurchaseOrderListOut(Schema):
    purchase_orders = fields.List(fields.Nested(PurchaseOrderOut))
