"""Dispatch's use cases: shipments in, day plans queued and solved, re-plans, publishing, proof of delivery."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from services.dispatch import store
from services.dispatch.fleet import vehicle_request
from services.dispatch.model import Shipment, SiteInfo, build_day_stops, service_minutes, shipment_volumes
from services.dispatch.planning import PlanCheckFailed, solve_request
from services.dispatch.schemas import OptionsIn
from shared.auth import Principal
from shared.clock import LOCAL_TZ, utcnow
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events.envelope import CloudEvent
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)

DISPATCHERS = ("dispatcher",)
STALE_AFTER_S = 120  # a solving plan whose worker stopped beating for this long is queued again


def _site_info(row: Any) -> SiteInfo:
    hours = tuple((w["start"], w["end"]) for w in row.snapshot.get("receiving_hours", []))
    return SiteInfo(row.code, row.name, row.level, row.lat, row.lon, hours, bool(row.is_hub), bool(row.active))


def sites(session: Session, metadata: Any) -> list[SiteInfo]:
    """Every site dispatch has heard of from the formulary."""
    table = metadata.tables["ref_sites"]
    return [_site_info(r) for r in session.execute(select(table).order_by(table.c.code))]


# --- shipments ---------------------------------------------------------------------------------


def shipment_ready_handler() -> Any:
    """The handler for procurement.shipment.ready: the shipment joins the pending list."""

    def handle(session: Session, event: CloudEvent) -> None:
        d = event.data
        exists = session.execute(select(store.shipments.c.id).where(store.shipments.c.id == d["shipment_id"])).first()
        if exists:
            return  # the same shipment announced twice (a procurement retry): keep the first
        volumes = d.get("volumes_l") or shipment_volumes(d["lines"])
        session.execute(
            insert(store.shipments).values(
                id=d["shipment_id"],
                site_code=d["site_code"],
                source="event",
                status="pending",
                deliver_l=volumes,
                pickup_l={},
                lines=d["lines"],
                priority=d.get("priority", 1),
                deliver_by=d.get("deliver_by"),
                note=None,
                created_at=utcnow(),
                created_by=event.source,
            )
        )

    return handle


def add_shipment(ctx: ServiceContext, actor: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """A dispatcher's hand-made shipment: an urgent delivery, an extra specimen pickup."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        site = session.execute(
            select(ctx.metadata.tables["ref_sites"]).where(ctx.metadata.tables["ref_sites"].c.code == data["site_code"])
        ).first()
        if site is None:
            raise InvalidInput(f"no site {data['site_code']}", {"site_code": "no such site"})
        if site.is_hub:
            raise InvalidInput("the hub is where routes start", {"site_code": "the hub cannot be a destination"})
        _check_fits_fleet(session, data)
        shipment_id = f"M-{uuid.uuid4().hex[:10]}"
        row = {
            "id": shipment_id,
            "site_code": data["site_code"],
            "source": "manual",
            "status": "pending",
            "deliver_l": data["deliver"],
            "pickup_l": data["pickup"],
            "lines": [],
            "priority": data["priority"],
            "deliver_by": data.get("deliver_by"),
            "note": data.get("note"),
            "created_at": utcnow(),
            "created_by": actor.subject,
        }
        session.execute(insert(store.shipments).values(**row))
        return row


def _check_fits_fleet(session: Session, data: dict[str, Any]) -> None:
    """A shipment no active vehicle could ever carry is refused now, not dropped from every plan later."""
    largest: dict[str, float] = {}
    for row in session.execute(select(store.vehicles.c.compartments_l).where(store.vehicles.c.active.is_(True))):
        for compartment, litres in row.compartments_l.items():
            largest[compartment] = max(largest.get(compartment, 0.0), float(litres))
    problems = {}
    for side in ("deliver", "pickup"):
        for compartment, litres in data[side].items():
            if litres > largest.get(compartment, 0.0):
                problems[f"{side}.{compartment}"] = (
                    f"{litres:g} L exceeds the largest {compartment} compartment of the fleet ({largest.get(compartment, 0):g} L)"
                )
    if problems:
        raise InvalidInput("no vehicle can carry this shipment", problems)


def pending_shipments(session: Session) -> list[Shipment]:
    """Shipments waiting for a vehicle."""
    rows = session.execute(select(store.shipments).where(store.shipments.c.status == "pending").order_by(store.shipments.c.created_at))
    return [Shipment(r.id, r.site_code, r.deliver_l, r.pickup_l, r.priority, r.source, r.note) for r in rows]


# --- day plans ---------------------------------------------------------------------------------


def _default_options(overrides: dict[str, Any]) -> dict[str, Any]:
    return OptionsIn().load({"specimen_max_ride_min": 240, "workers": 2, **overrides})


def build_day_request(
    session: Session, metadata: Any, day: date, options: dict[str, Any], exclude_vehicles: set[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The solve request for a day (pending shipments + rounds due) and the stop -> shipments map."""
    all_sites = sites(session, metadata)
    hub = next((s for s in all_sites if s.is_hub), None)
    if hub is None:
        raise Conflict("dispatch has not heard of the hub site yet (formulary.site.upserted)", {"date": "no hub"})
    stops = build_day_stops(day, all_sites, pending_shipments(session))
    vehicle_rows = session.execute(select(store.vehicles).where(store.vehicles.c.active.is_(True)).order_by(store.vehicles.c.id))
    vehicles = [vehicle_request(v) for v in vehicle_rows if v.id not in (exclude_vehicles or set())]
    if not vehicles:
        raise Conflict("no active vehicle to plan with", {"vehicles": "none active"})
    hub_open, hub_close = (hub.receiving_hours[0][0], hub.receiving_hours[-1][1]) if hub.receiving_hours else ("06:00", "20:00")
    request = {
        "depot": {"id": hub.code, "lat": hub.lat, "lon": hub.lon, "open": hub_open, "close": hub_close},
        "vehicles": vehicles,
        "stops": [
            {
                "id": s.site.code,
                "name": s.site.name,
                "lat": s.site.lat,
                "lon": s.site.lon,
                # One window per stop: from the first opening to the last closing of the day. A
                # lunch closure inside it is left to the driver's own break (see README).
                "window": [s.site.receiving_hours[0][0], s.site.receiving_hours[-1][1]] if s.site.receiving_hours else None,
                "service_min": service_minutes(s),
                "deliver": s.deliver_l,
                "pickup": s.pickup_l,
                "priority": s.priority,
            }
            for s in stops
        ],
        "options": options,
        "locks": {},
        "initial_routes": None,
        "locked_routes": [],
    }
    refs = {
        s.site.code: {"name": s.site.name, "shipment_ids": s.shipment_ids, "rounds": s.rounds,
                      "deliver_l": s.deliver_l, "pickup_l": s.pickup_l, "lat": s.site.lat, "lon": s.site.lon}
        for s in stops
    }  # fmt: skip
    refs[hub.code] = {"name": hub.name, "lat": hub.lat, "lon": hub.lon, "hub": True}
    return request, refs


def queue_plan(ctx: ServiceContext, actor: Principal, day: date, options: dict[str, Any]) -> dict[str, Any]:
    """Build tomorrow's (or any day's) problem from pending shipments and rounds, and queue its solve."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        request, refs = build_day_request(session, ctx.metadata, day, _default_options(options))
        return _insert_plan(session, actor, day, request, refs, None)


def _insert_plan(
    session: Session, actor: Principal, day: date, request: dict[str, Any], refs: dict[str, Any], base: str | None
) -> dict[str, Any]:
    plan_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": plan_id, "date": day.isoformat(), "status": "queued", "request": request, "stop_refs": refs,
        "result": None, "progress": [], "error": None, "base_plan_id": base, "created_by": actor.subject,
        "created_at": utcnow(), "heartbeat_at": None, "finished_at": None, "published_at": None,
    }  # fmt: skip
    session.execute(insert(store.plans).values(**row))
    return row


def preview_day(ctx: ServiceContext, day: date) -> dict[str, Any]:
    """The stops a plan for the day would visit (pending shipments + rounds due), without queuing anything."""
    with ctx.factory() as session:
        request, refs = build_day_request(session, ctx.metadata, day, _default_options({}))
    return {"date": day.isoformat(), "stops": request["stops"], "stop_refs": refs, "vehicles": request["vehicles"]}


def completions(ctx: ServiceContext, plan_id: str) -> list[dict[str, Any]]:
    """Stops the drivers have confirmed on a plan."""
    with ctx.factory() as session:
        rows = session.execute(
            select(store.stop_completions).where(store.stop_completions.c.plan_id == plan_id).order_by(store.stop_completions.c.completed_at)
        ).mappings()
        return [dict(r) for r in rows]


def get_plan(ctx: ServiceContext, plan_id: str) -> dict[str, Any]:
    """A plan with its status, progress and (once solved) routes."""
    with ctx.factory() as session:
        row = session.execute(select(store.plans).where(store.plans.c.id == plan_id)).mappings().first()
    if row is None:
        raise NotFound(f"no plan {plan_id}")
    return dict(row)


def replan(
    ctx: ServiceContext,
    actor: Principal,
    plan_id: str,
    locks: dict[str, str],
    locked_routes: list[str],
    vehicles_out: list[str],
    time_limit_s: float,
) -> dict[str, Any]:
    """Re-plan from the current plan: pending shipments (an urgent order) join, locks are kept.

    Vehicles already out keep their routes untouched and leave the problem (their loads are on
    board); the rest start from the current routes as a warm start, so the answer comes in seconds.
    """
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        base = session.execute(select(store.plans).where(store.plans.c.id == plan_id)).mappings().first()
        if base is None:
            raise NotFound(f"no plan {plan_id}")
        if base["result"] is None:
            raise Conflict(f"plan {plan_id} is {base['status']}; re-plan a solved plan", {"plan_id": "not solved"})
        current = {r["vehicle"]: [s["id"] for s in r["stops"]] for r in base["result"]["routes"]}
        unknown = [v for v in [*locked_routes, *vehicles_out, *locks.values()] if v not in {x["id"] for x in base["request"]["vehicles"]}]
        if unknown:
            raise InvalidInput(f"no vehicle {unknown[0]} in this plan", {"vehicles": f"unknown {unknown[0]}"})
        options = {**base["request"]["options"], "time_limit_s": time_limit_s}
        day = date.fromisoformat(base["date"])
        request, refs = build_day_request(session, ctx.metadata, day, options, exclude_vehicles=set(vehicles_out))
        # Stops already on a vehicle that is out stay with it; they are not re-planned.
        out_stops = {s for v in vehicles_out for s in current.get(v, [])}
        request["stops"] = [s for s in request["stops"] if s["id"] not in out_stops]
        stop_ids = {s["id"] for s in request["stops"]}
        bad_locks = [s for s in locks if s not in stop_ids]
        if bad_locks:
            raise InvalidInput(f"stop {bad_locks[0]} is not in the re-plan", {"locks": f"unknown stop {bad_locks[0]}"})
        request["initial_routes"] = {
            v: [s for s in stops if s in stop_ids] for v, stops in current.items() if v not in vehicles_out
        }
        request["locks"] = dict(locks)
        for vehicle in locked_routes:
            for stop in request["initial_routes"].get(vehicle, []):
                request["locks"][stop] = vehicle
        request["locked_routes"] = list(locked_routes)
        request["kept_routes"] = [r for r in base["result"]["routes"] if r["vehicle"] in vehicles_out]
        return _insert_plan(session, actor, day, request, refs, plan_id)


def run_plan(ctx: ServiceContext, plan_id: str) -> None:
    """Solve one claimed plan, writing progress as the search improves; the result or error is stored."""
    plan = get_plan(ctx, plan_id)
    request = dict(plan["request"])
    kept = request.pop("kept_routes", [])
    samples: list[list[float]] = []
    last_write = [0.0]

    def progress(elapsed: float, objective: int) -> None:
        samples.append([round(elapsed, 2), objective])
        now = time.monotonic()
        if now - last_write[0] >= 0.5:  # a row update per improvement would flood the database
            last_write[0] = now
            with unit_of_work(ctx.factory) as session:
                session.execute(
                    update(store.plans).where(store.plans.c.id == plan_id).values(progress=list(samples), heartbeat_at=utcnow())
                )

    try:
        result = solve_request(request, progress)
        result["routes"] = kept + result["routes"]
        status, error = "solved", None
    except PlanCheckFailed as exc:
        log.error("plan failed the feasibility check", extra={"plan_id": plan_id, "violations": exc.violations[:20]})
        result, status, error = None, "failed", f"the plan failed the feasibility check: {exc}"
    except Exception as exc:  # noqa: BLE001 - a failed solve is recorded, the worker goes on
        log.exception("plan solve failed", extra={"plan_id": plan_id})
        result, status, error = None, "failed", f"{type(exc).__name__}: {exc}"
    with unit_of_work(ctx.factory) as session:
        session.execute(
            update(store.plans)
            .where(store.plans.c.id == plan_id, store.plans.c.status == "solving")
            .values(status=status, result=result, error=error, progress=samples or (result or {}).get("stats", {}).get("progress", []),
                    finished_at=utcnow(), heartbeat_at=utcnow())
        )


def claim_plan(ctx: ServiceContext) -> str | None:
    """Take the oldest queued plan (or one whose worker died) for this worker; None if there is none."""
    stale = utcnow() - timedelta(seconds=STALE_AFTER_S)
    with unit_of_work(ctx.factory) as session:
        query = (
            select(store.plans.c.id)
            .where(or_(store.plans.c.status == "queued", and_(store.plans.c.status == "solving", store.plans.c.heartbeat_at < stale)))
            .order_by(store.plans.c.created_at)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        plan_id = session.execute(query).scalar_one_or_none()
        if plan_id is None:
            return None
        session.execute(update(store.plans).where(store.plans.c.id == plan_id).values(status="solving", heartbeat_at=utcnow()))
        return str(plan_id)


def plan_worker(ctx: ServiceContext, stop: threading.Event) -> None:
    """The solver worker: claims queued plans one at a time until stopped."""
    while not stop.is_set():
        try:
            plan_id = claim_plan(ctx)
        except Exception:  # noqa: BLE001 - the database may be restarting
            log.exception("claiming a plan failed")
            plan_id = None
        if plan_id is None:
            stop.wait(0.5)
            continue
        run_plan(ctx, plan_id)


def publish_plan(ctx: ServiceContext, actor: Principal, plan_id: str) -> dict[str, Any]:
    """Hand a solved plan to the drivers: dispatch.plan.published, shipments marked planned."""
    actor.require(*DISPATCHERS)
    with unit_of_work(ctx.factory) as session:
        plan = session.execute(select(store.plans).where(store.plans.c.id == plan_id)).mappings().first()
        if plan is None:
            raise NotFound(f"no plan {plan_id}")
        if plan["status"] != "solved":
            raise Conflict(f"plan {plan_id} is {plan['status']}; only a solved plan can be published", {"plan_id": plan["status"]})
        day = date.fromisoformat(plan["date"])
        refs = plan["stop_refs"]
        routes = []
        shipment_ids: list[str] = []
        for route in plan["result"]["routes"]:
            stops = []
            for seq, stop in enumerate(route["stops"], start=1):
                ids = refs.get(stop["id"], {}).get("shipment_ids", [])
                shipment_ids += ids
                stops.append({"stop_id": stop["id"], "site_code": stop["id"], "sequence": seq,
                              "eta": _eta(day, stop["arrival"]), "shipment_ids": ids})  # fmt: skip
            routes.append({"vehicle_id": route["vehicle"], "stops": stops, "distance_km": route["distance_km"]})
        # Superseded drafts of the same day step aside so drivers see one plan.
        session.execute(
            update(store.plans)
            .where(store.plans.c.date == plan["date"], store.plans.c.status == "published")
            .values(status="superseded")
        )
        session.execute(update(store.plans).where(store.plans.c.id == plan_id).values(status="published", published_at=utcnow()))
        if shipment_ids:
            session.execute(
                update(store.shipments).where(store.shipments.c.id.in_(shipment_ids)).values(status="planned", plan_id=plan_id)
            )
        data = {"plan_id": plan_id, "date": plan["date"], "routes": routes,
                "unassigned": [u["id"] for u in plan["result"]["unassigned"]]}  # fmt: skip
        ctx.record(session, "dispatch.plan.published", data, subject=plan_id)
        return data


def _eta(day: date, hhmm_text: str) -> str:
    from datetime import datetime

    clock = hhmm_text.split("+")[0]
    extra_days = int(hhmm_text.split("+")[1][:-1]) if "+" in hhmm_text else 0
    local = datetime.combine(day + timedelta(days=extra_days), datetime.strptime(clock, "%H:%M").time(), LOCAL_TZ)
    return local.isoformat()


def complete_stop(
    ctx: ServiceContext, actor: Principal, plan_id: str, stop_id: str, received_by: str | None, exceptions: list[str]
) -> dict[str, Any]:
    """A driver's confirmation: proof of delivery and collection, dispatch.stop.completed for procurement."""
    actor.require("dispatcher")
    with unit_of_work(ctx.factory) as session:
        plan = session.execute(select(store.plans).where(store.plans.c.id == plan_id)).mappings().first()
        if plan is None:
            raise NotFound(f"no plan {plan_id}")
        if plan["status"] != "published":
            raise Conflict(f"plan {plan_id} is {plan['status']}; stops are confirmed on a published plan", {"plan_id": plan["status"]})
        on_route = {s["id"] for r in plan["result"]["routes"] for s in r["stops"]}
        if stop_id not in on_route:
            raise NotFound(f"stop {stop_id} is not on plan {plan_id}")
        done = session.execute(
            select(store.stop_completions).where(store.stop_completions.c.plan_id == plan_id, store.stop_completions.c.stop_id == stop_id)
        ).first()
        if done is not None:
            raise Conflict(f"stop {stop_id} was confirmed already", {"stop_id": "already completed"})
        now = utcnow()
        session.execute(insert(store.stop_completions).values(
            plan_id=plan_id, stop_id=stop_id, completed_at=now, received_by=received_by, exceptions=exceptions,
            confirmed_by=actor.subject,
        ))  # fmt: skip
        ref = plan["stop_refs"].get(stop_id, {})
        ids = ref.get("shipment_ids", [])
        if ids:
            session.execute(update(store.shipments).where(store.shipments.c.id.in_(ids)).values(status="delivered"))
        data = {"plan_id": plan_id, "stop_id": stop_id, "site_code": stop_id, "shipment_ids": ids,
                "completed_at": now.isoformat(), "received_by": received_by, "delivered_l": ref.get("deliver_l", {}),
                "collected_l": ref.get("pickup_l", {}), "exceptions": exceptions}  # fmt: skip
        ctx.record(session, "dispatch.stop.completed", data, subject=f"{plan_id}/{stop_id}")
        return data


def geojson(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's routes as a GeoJSON FeatureCollection (lines per vehicle, points per stop)."""
    refs = plan["stop_refs"]
    hub = next((code for code, r in refs.items() if r.get("hub")), None)
    features: list[dict[str, Any]] = []
    for route in (plan.get("result") or {}).get("routes", []):
        path = [hub, *[s["id"] for s in route["stops"]], hub]
        coords = [[refs[c]["lon"], refs[c]["lat"]] for c in path if c in refs]
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                         "properties": {"vehicle": route["vehicle"], "distance_km": route["distance_km"]}})  # fmt: skip
        for seq, stop in enumerate(route["stops"], start=1):
            ref = refs.get(stop["id"], {})
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [ref.get("lon"), ref.get("lat")]},
                             "properties": {"vehicle": route["vehicle"], "sequence": seq, "site": stop["id"],
                                            "name": ref.get("name"), "arrival": stop["arrival"]}})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def tomorrow() -> date:
    """Tomorrow in the county's time zone."""
    from datetime import datetime

    return datetime.now(LOCAL_TZ).date() + timedelta(days=1)
