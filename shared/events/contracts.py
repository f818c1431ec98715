"""Payload contracts for every event type on the bus, as marshmallow schemas.

The contracts live in one place so producers validate before writing the outbox and consumers
can rely on the shape. Payloads are full snapshots (not diffs), so a consumer that missed an
event is repaired by the next one about the same thing.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

KINDS = ("drug", "consumable")
STORAGE = ("ambient", "cool", "cold", "frozen")
CONTROLLED = ("none", "narcotic", "psychotropic_1", "psychotropic_2", "toxic", "radioactive")
ANTIBIOTIC_TIERS = ("none", "unrestricted", "restricted", "special")
REIMBURSEMENT = ("甲", "乙", "丙", "none")
SITE_LEVELS = ("county_hospital", "township", "village")
COMPARTMENTS = ("ambient", "cold", "clean", "soiled", "specimen")


class Contract(Schema):
    """Strict by default: a producer cannot slip an unannounced field onto the bus."""

    class Meta:
        unknown = RAISE


class ItemSnapshot(Contract):
    """One catalogue item as published (formulary.item.published)."""

    code = fields.String(required=True)
    version = fields.Integer(required=True)
    catalogue_version = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    status = fields.String(required=True, validate=validate.OneOf(("active", "retired")))
    generic_name = fields.String(required=True)
    generic_name_en = fields.String(allow_none=True, load_default=None)
    trade_name = fields.String(allow_none=True, load_default=None)
    dosage_form = fields.String(allow_none=True, load_default=None)
    strength = fields.String(allow_none=True, load_default=None)
    unit = fields.String(required=True)
    package_size = fields.Integer(required=True)
    package_unit = fields.String(required=True)
    manufacturer = fields.String(allow_none=True, load_default=None)
    approval_no = fields.String(allow_none=True, load_default=None)
    nhsa_code = fields.String(allow_none=True, load_default=None)
    atc_code = fields.String(allow_none=True, load_default=None)
    essential = fields.Boolean(required=True)
    reimbursement = fields.String(required=True, validate=validate.OneOf(REIMBURSEMENT))
    vbp = fields.Boolean(required=True)
    vbp_batch = fields.String(allow_none=True, load_default=None)
    storage = fields.String(required=True, validate=validate.OneOf(STORAGE))
    controlled = fields.String(required=True, validate=validate.OneOf(CONTROLLED))
    antibiotic_tier = fields.String(required=True, validate=validate.OneOf(ANTIBIOTIC_TIERS))
    high_alert = fields.Boolean(required=True)
    volume_cm3 = fields.Float(required=True)
    weight_g = fields.Float(required=True)
    category = fields.String(allow_none=True, load_default=None)


class ItemRetired(Contract):
    """An item taken out of the catalogue (formulary.item.retired)."""

    code = fields.String(required=True)
    version = fields.Integer(required=True)
    catalogue_version = fields.Integer(required=True)
    reason = fields.String(allow_none=True, load_default=None)


class ReceivingWindow(Contract):
    """Hours a site takes deliveries, local time HH:MM."""

    start = fields.String(required=True, validate=validate.Regexp(r"^\d{2}:\d{2}$"))
    end = fields.String(required=True, validate=validate.Regexp(r"^\d{2}:\d{2}$"))


class SiteSnapshot(Contract):
    """One institution as published (formulary.site.upserted)."""

    code = fields.String(required=True)
    version = fields.Integer(required=True)
    catalogue_version = fields.Integer(required=True)
    name = fields.String(required=True)
    tax_id = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(SITE_LEVELS))
    parent_code = fields.String(allow_none=True, load_default=None)
    is_hub = fields.Boolean(required=True)
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)
    receiving_hours = fields.List(fields.Nested(ReceivingWindow), required=True)
    active = fields.Boolean(required=True)
    # Optional contact details for drivers' manifests (older snapshots carry neither).
    address = fields.String(allow_none=True, load_default=None)
    phone = fields.String(allow_none=True, load_default=None)


class StocklistChanged(Contract):
    """The full list of items one level, or one site, may stock (formulary.stocklist.changed)."""

    scope = fields.String(required=True, validate=validate.OneOf(("level", "site")))
    level = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(SITE_LEVELS))
    site_code = fields.String(allow_none=True, load_default=None)
    catalogue_version = fields.Integer(required=True)
    item_codes = fields.List(fields.String(), required=True)


class ShipmentLine(Contract):
    """One item on a shipment, in its smallest dispensing unit."""

    item_code = fields.String(required=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))
    compartment = fields.String(required=True, validate=validate.OneOf(COMPARTMENTS))
    volume_l = fields.Float(required=True, validate=validate.Range(min=0))
    weight_kg = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0))


class ShipmentReady(Contract):
    """Goods picked and packed at the hub, waiting for a vehicle (procurement.shipment.ready)."""

    shipment_id = fields.String(required=True)
    site_code = fields.String(required=True)
    requisition_id = fields.String(allow_none=True, load_default=None)
    ready_at = fields.AwareDateTime(required=True)
    deliver_by = fields.Date(allow_none=True, load_default=None)
    priority = fields.Integer(load_default=2, validate=validate.Range(min=1, max=3))
    lines = fields.List(fields.Nested(ShipmentLine), required=True, validate=validate.Length(min=1))
    volumes_l = fields.Dict(keys=fields.String(validate=validate.OneOf(COMPARTMENTS)), values=fields.Float())
    weights_kg = fields.Dict(keys=fields.String(validate=validate.OneOf(COMPARTMENTS)), values=fields.Float(), load_default=dict)


class PlannedStop(Contract):
    """A stop on a published route."""

    stop_id = fields.String(required=True)
    site_code = fields.String(required=True)
    sequence = fields.Integer(required=True)
    eta = fields.AwareDateTime(required=True)
    shipment_ids = fields.List(fields.String(), required=True)


class PlannedRoute(Contract):
    """One vehicle's route on a published plan."""

    vehicle_id = fields.String(required=True)
    stops = fields.List(fields.Nested(PlannedStop), required=True)
    distance_km = fields.Float(required=True)


class PlanPublished(Contract):
    """A day's routes handed to drivers (dispatch.plan.published)."""

    plan_id = fields.String(required=True)
    date = fields.Date(required=True)
    routes = fields.List(fields.Nested(PlannedRoute), required=True)
    unassigned = fields.List(fields.String(), required=True)


class StopCompleted(Contract):
    """A driver's confirmation of a stop: proof of delivery and collection (dispatch.stop.completed)."""

    plan_id = fields.String(required=True)
    stop_id = fields.String(required=True)
    site_code = fields.String(required=True)
    shipment_ids = fields.List(fields.String(), required=True)
    completed_at = fields.AwareDateTime(required=True)
    received_by = fields.String(allow_none=True, load_default=None)
    delivered_l = fields.Dict(keys=fields.String(), values=fields.Float(), load_default=dict)
    collected_l = fields.Dict(keys=fields.String(), values=fields.Float(), load_default=dict)
    exceptions = fields.List(fields.String(), load_default=list)


class PrescribedLine(Contract):
    """One drug on a prescription."""

    item_code = fields.String(required=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))


APPROVED_HOW = ("auto_pass", "pharmacist", "double_signed", "released_unreviewed")


class PrescriptionApproved(Contract):
    """A prescription released for dispensing (review.prescription.approved): after an automatic
    pass, a pharmacist's approval, or the waiting limit. Site and dispensed quantities (in each
    item's dispensing unit) for procurement; never anything about the patient."""

    prescription_id = fields.String(required=True)
    site_code = fields.String(required=True)
    pharmacist = fields.String(required=True)  # the approving pharmacist's subject, or "auto"
    approved_at = fields.AwareDateTime(required=True)
    lines = fields.List(fields.Nested(PrescribedLine), required=True)
    prescription_no = fields.String(load_default=None, allow_none=True)
    approved_how = fields.String(load_default="pharmacist", validate=validate.OneOf(APPROVED_HOW))
    knowledge_version = fields.String(load_default=None, allow_none=True)


CONTRACTS: dict[str, type[Contract]] = {
    "formulary.item.published": ItemSnapshot,
    "formulary.item.retired": ItemRetired,
    "formulary.site.upserted": SiteSnapshot,
    "formulary.stocklist.changed": StocklistChanged,
    "procurement.shipment.ready": ShipmentReady,
    "dispatch.plan.published": PlanPublished,
    "dispatch.stop.completed": StopCompleted,
    "review.prescription.approved": PrescriptionApproved,
}


class ContractError(ValueError):
    """A payload that does not match its event type's contract."""

    def __init__(self, event_type: str, messages: Any) -> None:
        super().__init__(f"{event_type}: {messages}")
        self.event_type = event_type
        self.messages = messages


_INSTANCES: dict[str, Contract] = {}


def contract_schema(event_type: str) -> Contract:
    """The (shared, built once) contract schema instance of an event type; ContractError if none.

    Building a marshmallow schema deep-copies its fields (about a millisecond); loading with one
    shared instance is safe, as no per-load state is kept on it.
    """
    schema = _INSTANCES.get(event_type)
    if schema is None:
        schema_cls = CONTRACTS.get(event_type)
        if schema_cls is None:
            raise ContractError(event_type, "no contract for this event type")
        schema = _INSTANCES.setdefault(event_type, schema_cls())
    return schema


def validate_payload(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check a payload against its contract and return it unchanged; raise ContractError if not."""
    schema = contract_schema(event_type)
    try:
        schema.load(data)
    except ValidationError as exc:
        raise ContractError(event_type, exc.messages) from exc
    return data
