"""The dispatch HTTP API: thin views over the use cases."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import insert, select, update

from services.dispatch import schemas, service, store
from services.dispatch.planning import PlanCheckFailed, solve_request
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent

blp = Blueprint("dispatch", __name__, url_prefix="/api/v1", description="物流调度 — routes for the county's deliveries")

SOLVE_MAX_S = 60  # a synchronous solve holds an API worker; long plans go through /plans


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


@blp.route("/solve", methods=["POST"])
@blp.arguments(schemas.SolveIn)
@blp.response(200)
def solve(problem: dict[str, Any]) -> Any:
    """Solve a self-contained problem and return the checked plan (integrations, tests, benchmarks)."""
    current_principal().require("dispatcher", "his")
    if problem["options"]["time_limit_s"] > SOLVE_MAX_S:
        raise InvalidInput(
            f"a synchronous solve takes at most {SOLVE_MAX_S} s; queue longer ones with POST /api/v1/plans",
            {"options.time_limit_s": f"at most {SOLVE_MAX_S}"},
        )
    try:
        return solve_request(problem)
    except PlanCheckFailed as exc:
        raise Conflict(f"the solver's plan failed the feasibility check: {exc}") from exc


@blp.route("/shipments")
class Shipments(MethodView):
    """What waits to be carried."""

    @blp.arguments(schemas.ShipmentQuery, location="query")
    @blp.response(200, schemas.ShipmentOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Shipments (pending by default)."""
        query = select(store.shipments).order_by(store.shipments.c.created_at)
        if args["status"] != "all":
            query = query.where(store.shipments.c.status == args["status"])
        with _ctx().factory() as session:
            return session.execute(query).mappings().all()

    @idempotent
    @blp.arguments(schemas.ShipmentIn)
    @blp.response(201, schemas.ShipmentOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Add an urgent delivery or an extra pickup by hand."""
        if data.get("deliver_by"):
            data["deliver_by"] = data["deliver_by"].isoformat()
        row = service.add_shipment(_ctx(), current_principal(), data)
        return row, 201, {"Location": f"/api/v1/shipments/{row['id']}"}


@blp.route("/vehicles")
class Vehicles(MethodView):
    """The fleet."""

    @blp.response(200)
    def get(self) -> Any:
        """Every vehicle."""
        with _ctx().factory() as session:
            return [dict(r) for r in session.execute(select(store.vehicles).order_by(store.vehicles.c.id)).mappings()]

    @blp.arguments(schemas.VehicleRowIn)
    @blp.response(200)
    def put(self, data: dict[str, Any]) -> Any:
        """Add or replace a vehicle."""
        current_principal().require("dispatcher")
        with unit_of_work(_ctx().factory) as session:
            exists = session.execute(select(store.vehicles.c.id).where(store.vehicles.c.id == data["id"])).first()
            if exists:
                session.execute(update(store.vehicles).where(store.vehicles.c.id == data["id"]).values(**data))
            else:
                session.execute(insert(store.vehicles).values(**data))
        return data


@blp.route("/plans")
class Plans(MethodView):
    """Day plans."""

    @blp.arguments(schemas.PlanQuery, location="query")
    @blp.response(200, schemas.PlanSummaryOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Plans, newest first."""
        query = select(store.plans).order_by(store.plans.c.created_at.desc()).limit(50)
        if args["date"]:
            query = query.where(store.plans.c.date == args["date"].isoformat())
        with _ctx().factory() as session:
            return session.execute(query).mappings().all()

    @blp.arguments(schemas.PlanIn)
    @blp.response(202, schemas.PlanOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Queue the solve of a day's plan (tomorrow by default); poll the plan for progress."""
        day = data["date"] or service.tomorrow()
        options = {"time_limit_s": data["time_limit_s"], "workers": data["workers"]}
        plan = service.queue_plan(_ctx(), current_principal(), day, options)
        return plan, 202, {"Location": f"/api/v1/plans/{plan['id']}"}


@blp.route("/plans/<plan_id>")
@blp.response(200, schemas.PlanOut)
def get_plan(plan_id: str) -> Any:
    """A plan: status, objective over time while solving, routes once solved."""
    return service.get_plan(_ctx(), plan_id)


@blp.route("/plans/<plan_id>/replan", methods=["POST"])
@blp.arguments(schemas.ReplanIn)
@blp.response(202, schemas.PlanOut)
def replan(data: dict[str, Any], plan_id: str) -> Any:
    """Re-plan from this plan: new pending shipments join, locks hold, vehicles out keep their routes."""
    plan = service.replan(
        _ctx(), current_principal(), plan_id, data["locks"], data["locked_routes"], data["vehicles_out"], data["time_limit_s"]
    )
    return plan, 202, {"Location": f"/api/v1/plans/{plan['id']}"}


@blp.route("/plans/<plan_id>/publish", methods=["POST"])
@blp.response(200)
def publish(plan_id: str) -> Any:
    """Publish the plan to the drivers (dispatch.plan.published)."""
    return service.publish_plan(_ctx(), current_principal(), plan_id)


@blp.route("/plans/<plan_id>/stops/<stop_id>/complete", methods=["POST"])
@blp.arguments(schemas.CompleteIn)
@blp.response(200)
def complete(data: dict[str, Any], plan_id: str, stop_id: str) -> Any:
    """A driver confirms a stop (dispatch.stop.completed for procurement's proof of delivery)."""
    return service.complete_stop(_ctx(), current_principal(), plan_id, stop_id, data["received_by"], data["exceptions"])


@blp.route("/days/<day>/stops")
@blp.response(200)
def day_stops(day: str) -> Any:
    """A dry run of a day's plan: which sites would be visited and with what (shipments + rounds due)."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError as exc:
        raise InvalidInput("the day is a date such as 2026-11-23", {"day": "not a date"}) from exc
    return service.preview_day(_ctx(), parsed)


@blp.route("/plans/<plan_id>/completions")
@blp.response(200)
def plan_completions(plan_id: str) -> Any:
    """Stops confirmed by drivers on this plan."""
    service.get_plan(_ctx(), plan_id)
    return [{**c, "completed_at": c["completed_at"].isoformat()} for c in service.completions(_ctx(), plan_id)]


@blp.route("/plans/<plan_id>/geojson")
@blp.response(200)
def plan_geojson(plan_id: str) -> Any:
    """The routes as GeoJSON."""
    plan = service.get_plan(_ctx(), plan_id)
    if plan["result"] is None:
        raise NotFound(f"plan {plan_id} has no routes yet ({plan['status']})")
    return service.geojson(plan)


