"""What the dispatch API answers: shipments and plans as marshmallow output schemas."""

from __future__ import annotations

from marshmallow import Schema, fields


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


class PlanSummaryOut(PlanOut):
    """A plan in a list: without the bulky request and stop references."""

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
