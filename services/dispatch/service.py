"""Dispatch's use cases: day plans queued, re-plans, publishing, proof of delivery (shipments: shipments.py).

One function per command (``commands.py``); each runs in one unit of work and raises
shared.errors exceptions (InvalidInput 422, NotFound 404, Conflict 409, Forbidden 403). The plan
worker's loop is in ``worker.py``, the shipment event handler in ``handlers.py``, GeoJSON and
manifests in ``presentation.py``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from services.dispatch import queries, store
from services.dispatch.commands import (
    CompleteStop,
    PlanDay,
    PublishPlan,
    Replan,
    UpsertVehicle,
)
from services.dispatch.dayplan import (
    PLAN_HORIZON_DAYS,
    ReplanBasis,
    day_options,
    day_request,
    not_before,
)
from services.dispatch.fleet import vehicle_request
from services.dispatch.locks import in_user_terms, screen_locks, trip_words
from services.dispatch.model import SiteInfo
from services.dispatch.planning import to_problem
from services.dispatch.presentation import is_shipment_entry, published_routes
from services.dispatch.trips import base_vehicle
from shared.auth import Principal
from shared.clock import LOCAL_TZ, utcnow
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.runtime import ServiceContext

DISPATCHERS = ("dispatcher",)


def site_info(row: Any) -> SiteInfo:
    """A reference site row as the domain's SiteInfo."""
    hours = tuple((w["start"], w["end"]) for w in row.snapshot.get("receiving_hours", []))
    return SiteInfo(row.code, row.name, row.level, row.lat, row.lon, hours, bool(row.is_hub), bool(row.active))


def local_now() -> datetime:
    """The present time in the county's time zone."""
    return datetime.now(LOCAL_TZ)


def today() -> date:
    """Today in the county's time zone."""
    return local_now().date()


def tomorrow() -> date:
    """Tomorrow in the county's time zone."""
    return today() + timedelta(days=1)


# --- fleet -------------------------------------------------------------------------------------


def upsert_vehicle(ctx: ServiceContext, actor: Principal, cmd: UpsertVehicle) -> dict[str, Any]:
    """Add or replace a vehicle."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        store.upsert_vehicle(session, cmd.row())
    return cmd.row()


def list_vehicles(ctx: ServiceContext) -> list[dict[str, Any]]:
    """The fleet."""
    with ctx.factory() as session:
        return queries.list_vehicles(session)


# --- day plans ---------------------------------------------------------------------------------


def build_day_request(
    session: Session, day: date, options: dict[str, Any], exclude_vehicles: set[str] | None = None,
    basis: ReplanBasis | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The day's solve request and stop references from the database (see dayplan.day_request): the
    day's shipments are the pending ones and those a plan of the day carries (store.day_shipments).

    Today's plan starts no earlier than the present time (``not_before``). Conflict when no hub
    site is known or no vehicle is active (or none can work in the hours left); InvalidInput naming
    ``date`` when the hub has already closed today."""
    vehicles = [vehicle_request(v) for v in store.active_vehicles(session)]
    if not vehicles:
        raise Conflict("no active vehicle to plan with", {"vehicles": "none active"})
    sites = [site_info(r) for r in store.site_rows(session)]
    try:
        request, refs = day_request(day, sites, store.day_shipments(session, day.isoformat()), vehicles, options,
                                    store.largest_compartments(session), exclude_vehicles or set(),
                                    not_before(day, local_now()), basis)  # fmt: skip
    except ValueError as exc:
        raise Conflict("dispatch has not heard of the hub site yet (formulary.site.upserted)", {"date": "no hub"}) from exc
    if not request["vehicles"]:
        if exclude_vehicles:  # a re-plan with every vehicle that could work already out
            raise Conflict("no vehicle is left at the hub to re-plan with: the others are out or cannot work "
                           "at the depot's hours", {"vehicles_out": "every vehicle that can work is out"})  # fmt: skip
        reason = request["left_out"][0]["reason"] if request["left_out"] else "no trip fits the depot's hours left today"
        raise Conflict("no vehicle can work at the depot's hours", {"vehicles": reason})
    return request, refs


def _insert_plan(
    session: Session, actor: Principal, day: date, request: dict[str, Any], refs: dict[str, Any], base: str | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()), "date": day.isoformat(), "status": "queued", "request": request, "stop_refs": refs,
        "result": None, "progress": [], "error": None, "base_plan_id": base, "created_by": actor.subject,
        "created_at": utcnow(), "heartbeat_at": None, "finished_at": None, "published_at": None, "claimed_by": None,
    }  # fmt: skip
    store.insert_plan(session, row)
    return row


def check_plan_day(day: date, field: str = "date") -> None:
    """A day a plan may be made for: today up to PLAN_HORIZON_DAYS ahead (InvalidInput naming ``field``)."""
    if day < today():
        raise InvalidInput(f"{day} has passed; earlier days can be read, not planned", {field: "in the past"})
    last = today() + timedelta(days=PLAN_HORIZON_DAYS)
    if day > last:
        raise InvalidInput(f"{day} is more than {PLAN_HORIZON_DAYS} days ahead; plan up to {last}",
                           {field: f"须在今天起 {PLAN_HORIZON_DAYS} 天内 (at most {last})"})  # fmt: skip


def queue_plan(ctx: ServiceContext, actor: Principal, cmd: PlanDay) -> dict[str, Any]:
    """Queue the solve of any day's plan from today to PLAN_HORIZON_DAYS ahead (today for same-day
    urgent work). InvalidInput naming ``date`` for a past day or one beyond that."""
    actor.require(*DISPATCHERS)
    day = cmd.day or tomorrow()
    check_plan_day(day)
    with unit_of_work(ctx.factory) as session:
        options = day_options({"time_limit_s": cmd.time_limit_s, "workers": cmd.workers})
        request, refs = build_day_request(session, day, options)
        return _insert_plan(session, actor, day, request, refs, None)


def preview_day(ctx: ServiceContext, actor: Principal, day: date) -> dict[str, Any]:
    """The stops a plan for the day would visit, without queuing anything, the shipments it would
    carry after their deliver-by day and those no stop can carry (with why); a storekeeper sees only
    their own site's stops. InvalidInput
    naming ``day`` beyond PLAN_HORIZON_DAYS."""
    if day > today() + timedelta(days=PLAN_HORIZON_DAYS):
        check_plan_day(day, "day")
    with ctx.factory() as session:
        request, refs = build_day_request(session, day, day_options({}))
    scope = actor.site_scope()
    stops = request["stops"]
    if scope is not None:
        stops = [s for s in stops if refs[s["id"]].get("site") == scope]
        refs = {k: v for k, v in refs.items() if v.get("site") == scope}
        late = [x for x in request["late_shipments"] if x["site"] == scope]
        return {"date": day.isoformat(), "stops": stops, "stop_refs": refs, "vehicles": [], "late_shipments": late}
    return {"date": day.isoformat(), "stops": stops, "stop_refs": refs, "vehicles": request["vehicles"],
            "left_out": request["left_out"], "late_shipments": request["late_shipments"],
            "unplanned_shipments": request["unplanned_shipments"]}  # fmt: skip


def get_plan(ctx: ServiceContext, plan_id: str) -> dict[str, Any]:
    """A plan with its request, stop references and (once solved, or while solving: the best so far) routes."""
    with ctx.factory() as session:
        row = store.plan(session, plan_id)
    if row is None:
        raise NotFound(f"no plan {plan_id}")
    return row


def plan_progress(ctx: ServiceContext, plan_id: str) -> dict[str, Any]:
    """What a progress poll needs: status, objective over time, and the best plan's totals."""
    with ctx.factory() as session:
        row = queries.plan_status(session, plan_id)
        if row is None:
            raise NotFound(f"no plan {plan_id}")
        result = queries.plan_result(session, plan_id)
    row["totals"] = (result or {}).get("totals")
    row["has_routes"] = bool(result)
    return row


def list_plans(ctx: ServiceContext, day: date | None) -> list[dict[str, Any]]:
    """Plans newest first, of one day when given (earlier days can be read)."""
    with ctx.factory() as session:
        return queries.list_plans(session, day.isoformat() if day else None)


def replan(ctx: ServiceContext, actor: Principal, cmd: Replan) -> dict[str, Any]:
    """Re-plan from a solved plan: every shipment it carried that is neither out nor delivered is
    planned again (on a route, or unassigned with its reason), pending shipments (an urgent order)
    join, locks are kept.

    Vehicles already out keep their routes as they left and leave the problem (their loads are on
    board), those out before the base plan too (a re-plan of a re-plan); stops confirmed delivered
    (on the base plan or the plans it came from) are not planned again. Nothing is added to a stop
    that is out or confirmed, and a site's rounds are never planned twice: a new order for such a
    site gets a visit of its own (dayplan.replan_stops). The rest start from the current routes as
    a warm start; a new order for a locked stop (still at the hub) joins it.

    Conflict when the base plan is superseded, or when the day's published plan is not the base nor
    one it was re-planned from: only the plan the drivers have knows which vans are out, so the
    dispatcher is told to re-plan that plan (named). Refusing was chosen over silently basing the
    re-plan on it: the dispatcher's locks and vans out were given against the plan they named.
    InvalidInput names an unknown vehicle or stop, or a lock no vehicle could keep, by the field the
    request had (``locks.<stop>``, ``locked_routes[i]``) and the vehicles as sent (a trip the caller
    did not name reads "<van> 第k趟 (trip k)": locks.in_user_terms).
    """
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        base = store.plan(session, cmd.plan_id)
        if base is None:
            raise NotFound(f"no plan {cmd.plan_id}")
        if base["result"] is None or base["status"] in ("queued", "solving"):
            raise Conflict(f"plan {cmd.plan_id} is {base['status']}; re-plan a solved plan", {"plan_id": "not solved"})
        lineage = store.plan_lineage(session, cmd.plan_id)
        drivers = store.published_plan(session, base["date"])
        if base["status"] == "superseded" or (drivers is not None and drivers["id"] not in lineage):
            newer = drivers["id"] if drivers is not None else "a later plan"
            raise Conflict(f"plan {cmd.plan_id} was superseded by plan {newer}, which the drivers have for {base['date']}; "
                           f"re-plan from plan {newer}", {"plan_id": f"superseded by plan {newer}"})  # fmt: skip
        # trips out before this base plan was made (a re-plan of a re-plan) stay out: their routes
        # are kept again, and naming them out once more is not an unknown vehicle
        already_out = [r["vehicle"] for r in base["request"].get("kept_routes") or []]
        trips_of: dict[str, list[str]] = {}
        for trip in [x["id"] for x in base["request"]["vehicles"]] + already_out:
            if trip not in trips_of.setdefault(base_vehicle(trip)[0], []):
                trips_of[base_vehicle(trip)[0]].append(trip)
            trips_of.setdefault(trip, [trip])
        for name, values in (("locked_routes", cmd.locked_routes), ("vehicles_out", cmd.vehicles_out)):
            for i, v in enumerate(values):
                if v not in trips_of:
                    raise InvalidInput(f"no vehicle {v} in this plan", {f"{name}[{i}]": f"unknown vehicle {v}"})
        for stop, v in cmd.locks.items():
            if v not in trips_of:
                raise InvalidInput(f"no vehicle {v} in this plan", {f"locks.{stop}": f"unknown vehicle {v}"})
        current = {r["vehicle"]: [s["id"] for s in r["stops"]] for r in base["result"]["routes"]}
        out = {t for v in cmd.vehicles_out for t in trips_of[v]} | set(already_out)
        day = date.fromisoformat(base["date"])
        options = {**base["request"]["options"], "time_limit_s": cmd.time_limit_s}
        out_stops = {s for v in out for s in current.get(v, [])}
        done = store.completed_stops(session, lineage) & set(base["stop_refs"])
        for stop, v in cmd.locks.items():
            if stop in out_stops:
                on_van = trip_words(next(v for v, stops in current.items() if stop in stops), {*cmd.vehicles_out, *cmd.locks.values()})
                raise InvalidInput(f"stop {stop} is already out on {on_van}", {f"locks.{stop}": f"already out on {on_van} (its route is kept)"})
            if set(trips_of[v]) <= out:
                raise InvalidInput(f"vehicle {v} is already out", {f"locks.{stop}": f"vehicle {v} is already out; lock to a vehicle still at the hub"})
            if stop in done:
                raise InvalidInput(f"stop {stop} was confirmed delivered", {f"locks.{stop}": f"stop {stop} was delivered already"})
        basis = ReplanBasis(base["stop_refs"], frozenset(out_stops | done))
        request, refs = build_day_request(session, day, options, exclude_vehicles=out, basis=basis)
        request["stops"] = [s for s in request["stops"] if s["id"] not in out_stops]
        stop_ids = {s["id"] for s in request["stops"]}
        for stop in cmd.locks:
            if stop not in stop_ids:
                raise InvalidInput(f"stop {stop} is not in the re-plan", {f"locks.{stop}": f"unknown stop {stop}"})
        planned = {x["id"] for x in request["vehicles"]}
        request["initial_routes"] = {v: [s for s in stops if s in stop_ids] for v, stops in current.items() if v in planned}
        on = {s: v for v, stops in current.items() for s in stops}
        # A lock naming a vehicle (not one of its trips) keeps the stop's current trip on it, else its first
        # trip still to plan (a same-day re-plan after the morning trip has only the afternoon one left).
        locks: dict[str, str] = {}
        for s, v in cmd.locks.items():
            left = [t for t in trips_of[v] if t in planned]
            if not left:
                raise InvalidInput(f"vehicle {v} has no trip left to plan", {f"locks.{s}": f"vehicle {v} has no trip "
                                   "left in the hours still to plan; lock to a vehicle that has"})  # fmt: skip
            locks[s] = on[s] if on.get(s) in left else left[0]
        locked = [t for v in cmd.locked_routes for t in trips_of[v] if t in planned]
        request["locks"] = locks
        for i, van in enumerate(cmd.locked_routes):
            for vehicle in [t for t in trips_of[van] if t in planned]:
                for stop in request["initial_routes"].get(vehicle, []):
                    if request["locks"].setdefault(stop, vehicle) != vehicle:  # pinned elsewhere by the caller
                        raise InvalidInput(f"stop {stop} is on {van}'s locked route (locked_routes[{i}])",
                                           {f"locks.{stop}": f"on {van}'s locked route (locked_routes[{i}]); it cannot "
                                                             f"also be locked to {cmd.locks[stop]}"})  # fmt: skip
        request["locked_routes"] = locked
        problems = screen_locks(request, to_problem(request))
        if problems:
            named = in_user_terms(problems, request, cmd.locks, cmd.locked_routes)
            field, reason = next(iter(named.items()))
            raise InvalidInput(f"{field}: {reason}", named)
        request["kept_routes"] = [r for r in base["result"]["routes"] if r["vehicle"] in out]
        return _insert_plan(session, actor, day, request, refs, cmd.plan_id)


def publish_plan(ctx: ServiceContext, actor: Principal, cmd: PublishPlan) -> dict[str, Any]:
    """Hand a solved plan to the drivers: dispatch.plan.published, shipments marked planned.

    Conflict unless the plan is solved, when the plan published for the day is newer than this
    one (going back to an older plan is a re-plan, never a silent swap), or when it leaves out a
    route of a vehicle already out on the published plan (it was not re-planned from it). The day's
    earlier published plan is superseded; the shipments this plan routes move to it, those its
    day's other plans carried and it does not route wait for a vehicle again (pending)."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        plan = store.plan(session, cmd.plan_id, lock=True)
        if plan is None:
            raise NotFound(f"no plan {cmd.plan_id}")
        if plan["status"] != "solved":
            raise Conflict(f"plan {cmd.plan_id} is {plan['status']}; only a solved plan can be published",
                           {"plan_id": plan["status"]})  # fmt: skip
        current = store.published_plan(session, plan["date"])
        if current is not None and current["created_at"] > plan["created_at"]:
            raise Conflict(f"plan {cmd.plan_id} is older than plan {current['id']}, which the drivers have for "
                           f"{plan['date']}; re-plan from the published plan instead of going back to an older one",
                           {"plan_id": f"older than the published plan {current['id']}"})  # fmt: skip
        gone = {r["vehicle"] for r in (current or {"request": {}})["request"].get("kept_routes") or []} - {
            r["vehicle"] for r in plan["request"].get("kept_routes") or []}  # fmt: skip
        if current is not None and gone and current["id"] not in store.plan_lineage(session, cmd.plan_id):
            raise Conflict(f"plan {cmd.plan_id} leaves out {', '.join(sorted(gone))}, already out on plan {current['id']} "
                           f"which the drivers have; re-plan from plan {current['id']}",
                           {"plan_id": f"drops vehicles already out on plan {current['id']}"})  # fmt: skip
        routes, shipment_ids = published_routes(plan)
        closed = closed_shipments(plan, store.shipments_by_id(session, shipment_ids),
                                  store.completed_stops(session, store.plan_lineage(session, cmd.plan_id)))  # fmt: skip
        if closed:  # cancelled or delivered since the plan was made: its routes are out of date
            raise Conflict(f"re-plan first: the plan carries closed shipments {', '.join(closed)}", {"shipments": ", ".join(closed)})
        store.publish_plan(session, cmd.plan_id, plan["date"], utcnow())
        store.mark_shipments_planned(session, shipment_ids, cmd.plan_id)
        store.release_unrouted(session, plan["date"], cmd.plan_id, shipment_ids)
        # the event's ``unassigned`` are stop ids (its contract, PlanPublished); a shipment no stop
        # carries is no stop: the answer names those apart (``unplanned_shipments``)
        left = plan["result"]["unassigned"]
        data = {"plan_id": cmd.plan_id, "date": plan["date"], "routes": routes,
                "unassigned": [u["id"] for u in left if not is_shipment_entry(u)]}  # fmt: skip
        ctx.record(session, "dispatch.plan.published", data, subject=cmd.plan_id)
        return {**data, "unplanned_shipments": [u["shipment_id"] for u in left if is_shipment_entry(u)]}


def closed_shipments(plan: dict[str, Any], carried: dict[str, dict[str, Any]], confirmed: set[str]) -> list[str]:
    """Shipments the plan's routes still have to deliver that were cancelled or delivered since it
    was made; a stop confirmed already (a van out: on this plan or one it was re-planned from) is
    done and what it delivered is no reason to re-plan."""
    due = {i for r in plan["result"]["routes"] for s in r["stops"] if s["id"] not in confirmed
           for i in plan["stop_refs"].get(s["id"], {}).get("shipment_ids", [])}  # fmt: skip
    return sorted(i for i, s in carried.items() if i in due and s["status"] in ("cancelled", "delivered"))


def complete_stop(ctx: ServiceContext, actor: Principal, cmd: CompleteStop) -> dict[str, Any]:
    """A driver's confirmation: proof of delivery and collection, dispatch.stop.completed for procurement.

    NotFound for an unknown plan or a stop not on it; Conflict unless published, when the plan's day
    is still to come (county time), or when confirmed already (on this plan or one it was re-planned
    from). A shipment is delivered once every stop of the plan carrying it is confirmed (a split
    load: all its parts)."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        plan = store.plan(session, cmd.plan_id, lock=True)
        if plan is None:
            raise NotFound(f"no plan {cmd.plan_id}")
        if plan["status"] != "published":
            raise Conflict(f"plan {cmd.plan_id} is {plan['status']}; stops are confirmed on a published plan",
                           {"plan_id": plan["status"]})  # fmt: skip
        if cmd.stop_id not in {s["id"] for r in plan["result"]["routes"] for s in r["stops"]}:
            raise NotFound(f"stop {cmd.stop_id} is not on plan {cmd.plan_id}")
        if plan["date"] > today().isoformat():  # proof of delivery cannot come before the day's round
            raise Conflict(f"plan {cmd.plan_id} is for {plan['date']}; its stops are confirmed on that day, "
                           f"not before (today is {today().isoformat()})", {"plan_id": f"for {plan['date']}"})
        confirmed = store.completed_stops(session, store.plan_lineage(session, cmd.plan_id))
        if cmd.stop_id in confirmed:
            raise Conflict(f"stop {cmd.stop_id} was confirmed already", {"stop_id": "already completed"})
        now = utcnow()
        store.insert_completion(session, {"plan_id": cmd.plan_id, "stop_id": cmd.stop_id, "completed_at": now,
                                          "received_by": cmd.received_by, "exceptions": list(cmd.exceptions),
                                          "confirmed_by": actor.subject})  # fmt: skip
        ref = plan["stop_refs"].get(cmd.stop_id, {})
        ids = ref.get("shipment_ids", [])
        confirmed.add(cmd.stop_id)
        store.mark_shipments_delivered(session, [i for i in ids if all(
            k in confirmed for k, r in plan["stop_refs"].items() if i in r.get("shipment_ids", []))])  # fmt: skip
        data = {"plan_id": cmd.plan_id, "stop_id": cmd.stop_id, "site_code": ref.get("site", cmd.stop_id),
                "shipment_ids": ids, "completed_at": now.isoformat(), "received_by": cmd.received_by,
                "delivered_l": ref.get("deliver_l", {}), "collected_l": ref.get("pickup_l", {}),
                "exceptions": list(cmd.exceptions)}  # fmt: skip
        ctx.record(session, "dispatch.stop.completed", data, subject=f"{cmd.plan_id}/{cmd.stop_id}")
        return data


def completions(ctx: ServiceContext, plan_id: str) -> list[dict[str, Any]]:
    """Stops the drivers have confirmed on a plan (NotFound for an unknown plan)."""
    get_plan(ctx, plan_id)
    with ctx.factory() as session:
        return queries.list_completions(session, plan_id)

