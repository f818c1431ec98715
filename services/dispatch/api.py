"""The dispatch HTTP API: thin views (parse, call one use case or query, serialise)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import current_app
from flask.views import MethodView

from services.dispatch import presentation, reads, schemas, schemas_out, service, shipments, solving
from services.dispatch.commands import (
    AddShipment,
    CancelShipment,
    CompleteStop,
    PlanDay,
    PublishPlan,
    Replan,
    ShipmentFilter,
    UpsertVehicle,
)
from shared.errors import InvalidInput, NotFound
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent
from shared.web.responses import problems

blp = Blueprint("dispatch", __name__, url_prefix="/api/v1", description="物流调度 — routes for the county's deliveries")


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


@blp.route("/solve", methods=["POST"])
@blp.arguments(schemas.SolveIn)
@blp.response(200, schemas_out.SolvedOut)
@problems(blp, 409)
def solve(problem: dict[str, Any]) -> Any:
    """Solve a self-contained problem and return the checked plan (integrations, tests, benchmarks);
    each route names its break rule by ``break_code`` (and in English, ``break_note``)."""
    return presentation.with_break_codes(solving.solve_now(current_principal(), problem))


@blp.route("/shipments")
class Shipments(MethodView):
    """What waits to be carried."""

    @blp.arguments(schemas.ShipmentQuery, location="query")
    @blp.response(200, schemas_out.ShipmentOut(many=True))
    def get(self, flt: ShipmentFilter) -> Any:
        """Shipments (pending by default); a storekeeper sees only their own site's."""
        return shipments.list_shipments(_ctx(), current_principal(), flt)

    @idempotent
    @blp.arguments(schemas.ShipmentIn)
    @blp.response(201, schemas_out.ShipmentOut)
    def post(self, cmd: AddShipment) -> Any:
        """Add an urgent delivery or an extra pickup by hand."""
        row = shipments.add_shipment(_ctx(), current_principal(), cmd)
        return row, 201, {"Location": f"/api/v1/shipments/{row['id']}"}


@blp.route("/shipments/<shipment_id>")
@blp.response(200, schemas_out.ShipmentOut)
@problems(blp, 404)
def get_shipment(shipment_id: str) -> Any:
    """One shipment (a storekeeper: of their own site only)."""
    return shipments.get_shipment(_ctx(), current_principal(), shipment_id)


@blp.route("/shipments/<shipment_id>/cancel", methods=["POST"])
@blp.response(200, schemas_out.ShipmentOut)
@problems(blp, 404, 409)
def cancel_shipment(shipment_id: str) -> Any:
    """Cancel a shipment while it is pending (409 once a published plan carries it)."""
    return shipments.cancel_shipment(_ctx(), current_principal(), CancelShipment(shipment_id))


@blp.route("/vehicles")
class Vehicles(MethodView):
    """The fleet."""

    @blp.response(200, schemas_out.VehicleOut(many=True))
    def get(self) -> Any:
        """Every vehicle."""
        return service.list_vehicles(_ctx())

    @blp.arguments(schemas.VehicleRowIn)
    @blp.response(200, schemas_out.VehicleOut)
    def put(self, cmd: UpsertVehicle) -> Any:
        """Add or replace a vehicle."""
        return service.upsert_vehicle(_ctx(), current_principal(), cmd)


@blp.route("/plans")
class Plans(MethodView):
    """Day plans."""

    @blp.arguments(schemas.PlanQuery, location="query")
    @blp.response(200, schemas_out.PlanSummaryOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Plans newest first (of one day, earlier days included); a storekeeper's come without routes."""
        return reads.plans_for(_ctx(), current_principal(), args["date"])

    @blp.arguments(schemas.PlanIn)
    @blp.response(202, schemas_out.PlanOut)
    @problems(blp, 409)
    def post(self, cmd: PlanDay) -> Any:
        """Queue the solve of a day's plan (any day from today; tomorrow by default); poll its progress."""
        plan = service.queue_plan(_ctx(), current_principal(), cmd)
        return plan, 202, {"Location": f"/api/v1/plans/{plan['id']}"}


@blp.route("/plans/<plan_id>")
@blp.response(200, schemas_out.PlanOut)
@problems(blp, 404)
def get_plan(plan_id: str) -> Any:
    """A plan: status, objective over time, routes (the best so far while solving)."""
    return reads.plan_for(_ctx(), current_principal(), plan_id)


@blp.route("/plans/<plan_id>/progress")
@blp.response(200, schemas_out.PlanProgressOut)
@problems(blp, 404)
def plan_progress(plan_id: str) -> Any:
    """What a progress poll needs (a few KB): status, objective over time, totals of the best plan so far."""
    return service.plan_progress(_ctx(), plan_id)


@blp.route("/plans/<plan_id>/replan", methods=["POST"])
@blp.arguments(schemas.ReplanIn)
@blp.response(202, schemas_out.PlanOut)
@problems(blp, 404, 409)
def replan(cmd: Replan, plan_id: str) -> Any:
    """Re-plan from this plan: new pending shipments join, locks hold, vehicles out keep their routes."""
    plan = service.replan(_ctx(), current_principal(), replace(cmd, plan_id=plan_id))
    return plan, 202, {"Location": f"/api/v1/plans/{plan['id']}"}


@blp.route("/plans/<plan_id>/compare")
@blp.arguments(schemas.CompareQuery, location="query")
@blp.response(200, schemas_out.CompareOut)
@problems(blp, 404, 409)
def compare(args: dict[str, Any], plan_id: str) -> Any:
    """Before/after of a re-plan against its base plan (or ?with=<plan id>): cost, km, vehicles, stops moved."""
    return reads.compare_plans(_ctx(), current_principal(), plan_id, args["with_"])


@blp.route("/plans/<plan_id>/publish-preview")
@blp.response(200, schemas_out.PublishPreviewOut)
@problems(blp, 404, 409)
def publish_preview(plan_id: str) -> Any:
    """What publishing would send out, and what changes against the plan now published for the day."""
    return reads.publish_preview(_ctx(), current_principal(), plan_id)


@blp.route("/plans/<plan_id>/publish", methods=["POST"])
@blp.response(200, schemas_out.PublishedOut)
@problems(blp, 404, 409)
def publish(plan_id: str) -> Any:
    """Publish the plan to the drivers (dispatch.plan.published)."""
    return service.publish_plan(_ctx(), current_principal(), PublishPlan(plan_id))


@blp.route("/plans/<plan_id>/stops/<stop_id>/complete", methods=["POST"])
@blp.arguments(schemas.CompleteIn)
@blp.response(200, schemas_out.CompletionOut)
@problems(blp, 404, 409)
def complete(cmd: CompleteStop, plan_id: str, stop_id: str) -> Any:
    """A driver confirms a stop (dispatch.stop.completed for procurement's proof of delivery)."""
    return service.complete_stop(_ctx(), current_principal(), replace(cmd, plan_id=plan_id, stop_id=stop_id))


@blp.route("/plans/<plan_id>/manifests/<vehicle_id>")
@blp.arguments(schemas.LanguageQuery, location="query")
@blp.response(200, schemas_out.ManifestOut)
@problems(blp, 404)
def manifest(args: dict[str, Any], plan_id: str, vehicle_id: str) -> Any:
    """One vehicle's driver manifest: per stop priority, notes, items, site details, times; driver and
    vehicle. Its labels (priority, break rules) are in ``?lang=`` (zh by default, en); codes stay the same."""
    return reads.manifest(_ctx(), current_principal(), plan_id, vehicle_id, args["lang"])


@blp.route("/days/<day>/stops")
@blp.response(200, schemas_out.DayStopsOut)
@problems(blp, 422)
def day_stops(day: str) -> Any:
    """A dry run of a day's plan: which sites would be visited and with what (a storekeeper: their own site)."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError as exc:
        raise InvalidInput("the day is a date such as 2026-11-23", {"day": "not a date"}) from exc
    return service.preview_day(_ctx(), current_principal(), parsed)


@blp.route("/plans/<plan_id>/completions")
@blp.response(200, schemas_out.CompletionOut(many=True))
@problems(blp, 404)
def plan_completions(plan_id: str) -> Any:
    """Stops confirmed by drivers on this plan."""
    rows = reads.completions_for(_ctx(), current_principal(), plan_id)
    return [{**c, "completed_at": c["completed_at"].isoformat()} for c in rows]


@blp.route("/plans/<plan_id>/geojson")
@blp.response(200, schemas_out.GeoJsonOut)
@problems(blp, 404)
def plan_geojson(plan_id: str) -> Any:
    """The routes as GeoJSON."""
    plan = reads.plan_for(_ctx(), current_principal(), plan_id)
    if plan["result"] is None:
        raise NotFound(f"plan {plan_id} has no routes yet ({plan['status']})")
    return presentation.geojson(plan)
