"""What the dispatch API answers: shipments and plans as marshmallow output schemas."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.web.responses import OpenSchema


class ShipmentOut(Schema):
    """A shipment."""

    id = fields.String()
    site_code = fields.String()
    source = fields.String()
    status = fields.String()
    deliver_l = fields.Dict()
    pickup_l = fields.Dict()
    lines = fields.List(fields.Dict())
    priority = fields.Integer()
    note = fields.String(allow_none=True)
    deliver_by = fields.String(allow_none=True)
    plan_id = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    created_by = fields.String()


class PlanOut(Schema):
    """A plan: status, progress and (once solved) routes."""

    id = fields.String()
    date = fields.String()
    status = fields.String()
    result = fields.Dict(allow_none=True)
    progress = fields.List(fields.List(fields.Float()))
    error = fields.String(allow_none=True)
    base_plan_id = fields.String(allow_none=True)
    stop_refs = fields.Dict()
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    request = fields.Dict()


class LateShipmentOut(Schema):
    """A shipment a plan carries after its deliver-by day (dayplan.late_shipments)."""

    shipment_id = fields.String(required=True)
    deliver_by = fields.String(required=True, metadata={"description": "ISO date, before the plan's day"})
    site = fields.String(required=True)
    stop = fields.String(
        metadata={"description": "the plan's stop carrying it (absent in a publish preview)"}
    )


class PlanSummaryOut(PlanOut):
    """A plan in a list: without the bulky request and stop references, with its late shipments."""

    late_shipments = fields.List(fields.Nested(LateShipmentOut), metadata={"description": "carried after their "
                                 "deliver-by day (a storekeeper: their own site's)"})  # fmt: skip

    class Meta:
        exclude = ("request", "stop_refs")


class PlanProgressOut(Schema):
    """A progress poll's answer: no request, no routes (a few KB at county scale)."""

    id = fields.String()
    date = fields.String()
    status = fields.String()
    progress = fields.List(fields.List(fields.Float()))
    error = fields.String(allow_none=True)
    base_plan_id = fields.String(allow_none=True)
    totals = fields.Dict(allow_none=True)
    has_routes = fields.Boolean()
    created_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)


class VehicleOut(OpenSchema):
    """A vehicle of the fleet: volumes per compartment in litres, times HH:MM, cost in yuan."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    compartments_l = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    shift_start = fields.String(required=True)
    shift_end = fields.String(required=True)
    break_start = fields.String(allow_none=True)
    break_end = fields.String(allow_none=True)
    break_min = fields.Integer(allow_none=True)
    max_route_min = fields.Integer(allow_none=True)
    max_km = fields.Float(allow_none=True)
    fixed_cost = fields.Float()
    cost_per_km = fields.Float()
    active = fields.Boolean()
    driver = fields.String(allow_none=True)


class TotalsOut(OpenSchema):
    """A plan's totals: vehicles used, kilometres, cost (yuan), stops served."""

    vehicles = fields.Integer()
    distance_km = fields.Float()
    cost = fields.Float()
    stops_served = fields.Integer()


class SolvedOut(OpenSchema):
    """A checked plan (planning.to_plan): routes per vehicle, stops left out and why, totals."""

    status = fields.String(required=True, metadata={"description": "solved | partial | infeasible"})
    routes = fields.List(fields.Dict(), required=True)
    unassigned = fields.List(fields.Dict(), required=True)
    objective = fields.Integer(allow_none=True)
    totals = fields.Nested(TotalsOut, required=True)
    stats = fields.Dict()
    checked = fields.Boolean()


class CompareOut(OpenSchema):
    """Before/after of a re-plan (presentation.compare): totals, their delta and the stops that moved."""

    before_plan_id = fields.String(required=True)
    after_plan_id = fields.String(required=True)
    before = fields.Dict(required=True)
    after = fields.Dict(required=True)
    delta = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    vehicles_added = fields.List(fields.String(), required=True)
    vehicles_removed = fields.List(fields.String(), required=True)
    moved = fields.List(fields.Dict(), required=True)


class PublishPreviewOut(OpenSchema):
    """What publishing would send out, and the changes against the plan now published for the day."""

    plan_id = fields.String(required=True)
    date = fields.String(required=True)
    replaces = fields.String(allow_none=True)
    changes = fields.Dict(allow_none=True)
    totals = fields.Dict(allow_none=True)
    unassigned = fields.List(fields.Raw(), metadata={"description": "ids of the stops left out"})
    unplanned_shipments = fields.List(fields.String(), metadata={"description": "ids of the shipments no stop "
                                      "carries (site inactive or unknown ...), apart from the stops"})  # fmt: skip
    vehicles = fields.List(fields.String())
    shipments = fields.Integer()
    stops = fields.Integer()
    closed_shipments = fields.List(fields.String(), metadata={"description": "cancelled or delivered since the plan "
                                   "was made: publishing is refused until a re-plan"})  # fmt: skip
    late_shipments = fields.List(fields.Nested(LateShipmentOut), metadata={"description": "carried after their "
                                 "deliver-by day: the publish confirmation lists them"})  # fmt: skip


class PublishedOut(OpenSchema):
    """The published plan as dispatch.plan.published carries it."""

    plan_id = fields.String(required=True)
    date = fields.String(required=True)
    routes = fields.List(fields.Dict(), required=True)
    unassigned = fields.List(fields.String(), required=True, metadata={"description": "ids of the stops left out"})
    unplanned_shipments = fields.List(fields.String(), metadata={"description": "ids of the shipments no stop "
                                      "carries; not in the event, whose contract lists stops"})  # fmt: skip


class CompletionOut(OpenSchema):
    """A driver's confirmation of a stop: volumes in litres, exceptions noted at the door."""

    plan_id = fields.String(required=True)
    stop_id = fields.String(required=True)
    site_code = fields.String()
    completed_at = fields.String(required=True, metadata={"description": "ISO 8601 with offset"})
    confirmed_by = fields.String()
    received_by = fields.String(allow_none=True)
    delivered_l = fields.Dict()
    collected_l = fields.Dict()
    shipment_ids = fields.List(fields.String())
    exceptions = fields.List(fields.Raw())


class BreakNoteOut(Schema):
    """A break rule a van's day followed: its code (presentation.BREAK_NOTE_CODES) and label."""

    code = fields.String(required=True)
    trip = fields.Integer(required=True)
    start = fields.String(
        allow_none=True, metadata={"description": "break_between_trips: back at the hub (HH:MM)"}
    )
    end = fields.String(allow_none=True, metadata={"description": "break_between_trips: out again (HH:MM)"})
    label = fields.String(required=True, metadata={"description": "in ?lang= (zh by default, en)"})


class ManifestOut(OpenSchema):
    """One vehicle's driver manifest: its stops in order with what to hand over and collect."""

    plan_id = fields.String(required=True)
    date = fields.String(required=True)
    status = fields.String(required=True)
    driver = fields.String(allow_none=True)
    start = fields.String(allow_none=True)
    end = fields.String(allow_none=True)
    break_note = fields.String(
        metadata={
            "description": "the break rules of break_notes, labelled and joined in ?lang= "
            "(as each stop's priority_label)"
        }
    )
    break_notes = fields.List(fields.Nested(BreakNoteOut))
    stops = fields.List(fields.Dict(), required=True)


class DayStopsOut(OpenSchema):
    """A dry run of a day's plan: the stops it would visit (by stop id) and the sites left out."""

    date = fields.String(required=True)
    stop_refs = fields.Dict(required=True)
    left_out = fields.List(fields.Raw(), required=True)


class GeoJsonOut(OpenSchema):
    """The routes as a GeoJSON FeatureCollection (RFC 7946): a LineString per route, a Point per stop."""

    type = fields.String(required=True)
    features = fields.List(fields.Dict(), required=True)
