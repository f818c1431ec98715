"""A day's solve request from what dispatch knows: sites, rounds due, pending shipments, the fleet.

Pure: the use cases read the rows and hand them here. The request has the shape ``POST /solve``
takes once loaded (HH:MM times, litres, km, yuan); ``refs`` maps each stop id to what the board
and the manifests show about it (site, shipments, rounds, parts of a split load, receiving hours).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.dispatch.model import (
    PART_SEPARATOR,
    DayStop,
    Shipment,
    SiteInfo,
    build_day_stops,
    minutes,
    service_minutes,
    split_oversized,
)
from services.dispatch.trips import annotate_trips, trip_vehicles
from shared.errors import InvalidInput

DEFAULT_DEPOT_HOURS = ("06:00", "20:00")  # a hub that publishes no receiving hours
# Day plans' solve options (see OptionsIn for ranges): specimens reach the hub's laboratory within
# 4 h of collection (WS/T 661-2020 临床检验标本采集与运送: transport promptly, generally within 2-4 h).
DEFAULT_OPTIONS: Mapping[str, Any] = {"time_limit_s": 20.0, "speed_kmh": 40.0, "circuity": 1.3,
                                      "specimen_max_ride_min": 240, "minimize_vehicles": False, "workers": 2}  # fmt: skip


# The days a plan may be made for: from today up to PLAN_HORIZON_DAYS ahead (a month: rounds and
# shipments further out are not known well enough to route; a later day is a 422 naming ``date``).
PLAN_HORIZON_DAYS = 31


@dataclass(frozen=True)
class ReplanBasis:
    """What a re-plan starts from (service.replan).

    ``refs`` are the base plan's stop references (stop id -> site, shipment_ids, rounds, litres,
    part/parts, priority); ``gone`` the stops that leave the problem: on the routes of vehicles out
    (kept as they left) or confirmed delivered. (A locked stop is still at the hub: a new order for
    its site joins it, and a lock that can then no longer hold is refused, naming the lock.)"""

    refs: Mapping[str, Mapping[str, Any]]
    gone: frozenset[str] = frozenset()


def replan_stops(
    day: date, basis: ReplanBasis, built: Sequence[DayStop], shipments: Sequence[Shipment],
    sites: Mapping[str, SiteInfo], split: Callable[[DayStop], list[DayStop]],
) -> list[DayStop]:  # fmt: skip
    """A re-plan's stops: nothing the base plan carried disappears, nothing is carried twice.

    ``built`` are the day's stops as a fresh plan would make them (rounds due + the day's open
    shipments, unsplit). A site none of whose stops is gone is planned afresh (``split``).
    At a site with a gone stop, every stop of the base plan not gone is carried as it was
    (same id, load, rounds, part), less its shipments that have closed since; a shipment new to the
    site (on none of its base stops) gets a further visit of its own, "<site>~<k>" with a k no
    stop of the base plan used, and is split as any order; the site's rounds ride where the base
    plan put them and are never added again (a kept route that carries them serves them)."""
    pinned = {str(basis.refs[s].get("site")) for s in basis.gone if basis.refs.get(s, {}).get("site")}
    stops = [part for stop in built if stop.site.code not in pinned for part in split(stop)]
    open_ids = {s.id for s in shipments}
    used = set(basis.refs)
    for code in sorted(pinned):
        site = sites.get(code)
        if site is None or not site.active:
            continue
        known: set[str] = set()
        for stop_id, ref in sorted(basis.refs.items()):
            if ref.get("site") != code or ref.get("hub"):
                continue
            known.update(ref.get("shipment_ids") or ())
            if stop_id in basis.gone:
                continue
            carried = DayStop(site, dict(ref.get("deliver_l") or {}), dict(ref.get("pickup_l") or {}),
                              [i for i in ref.get("shipment_ids") or () if i in open_ids], list(ref.get("rounds") or ()),
                              int(ref.get("priority") or 1), int(ref.get("part") or 0), int(ref.get("parts") or 1),
                              key=stop_id)  # fmt: skip
            if not carried.empty:
                stops.append(carried)
        extra = DayStop(site)
        for shipment in shipments:
            if shipment.site_code == code and shipment.id not in known:
                extra.add("deliver", shipment.deliver_l)
                extra.add("pickup", shipment.pickup_l)
                extra.shipment_ids.append(shipment.id)
                extra.priority = max(extra.priority, shipment.priority_on(day))
        if extra.empty:
            continue
        k = 1
        for piece in split(extra):
            while f"{code}{PART_SEPARATOR}{k}" in used:
                k += 1
            piece.key = f"{code}{PART_SEPARATOR}{k}"
            used.add(piece.key)
            stops.append(piece)
    return sorted(stops, key=lambda s: s.stop_id)


def late_shipments(day: date, stops: Iterable[DayStop], shipments: Iterable[Shipment]) -> list[dict[str, Any]]:
    """Shipments a plan for ``day`` carries after their deliver-by day, by id with their due date and stop."""
    due = {s.id: s.deliver_by for s in shipments if s.deliver_by is not None and s.deliver_by < day}
    return [{"shipment_id": i, "deliver_by": due[i].isoformat(), "site": stop.site.code, "stop": stop.stop_id}
            for stop in stops for i in stop.shipment_ids if i in due]  # fmt: skip


@dataclass(frozen=True)
class LeftOut:
    """A vehicle that cannot take part in the day, and why (shown on the board and in the plan)."""

    vehicle_id: str
    field: str
    reason: str


def day_options(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Default solve options with the caller's overrides."""
    return {**DEFAULT_OPTIONS, **{k: v for k, v in overrides.items() if v is not None}}


def depot_hours(hub: SiteInfo) -> tuple[str, str]:
    """The hub's opening and closing time (its first receiving period's start, last one's end)."""
    if not hub.receiving_hours:
        return DEFAULT_DEPOT_HOURS
    return hub.receiving_hours[0][0], hub.receiving_hours[-1][1]


def screen_vehicle(vehicle: Mapping[str, Any], opens: str, closes: str) -> LeftOut | None:
    """Why a vehicle cannot work this day at this depot, or None when it can.

    A shift that lies wholly outside the depot's hours leaves no working time at all
    (shift ∩ depot hours is empty): the vehicle is left out with that reason, the others plan.
    """
    start, end = vehicle["shift"]
    if minutes(end) <= minutes(opens) or minutes(start) >= minutes(closes):
        return LeftOut(vehicle["id"], "shift", f"班次 {start}–{end} 不在物流中心作业时间 {opens}–{closes} 内 "
                                               f"(shift {start}–{end} lies outside the depot's hours {opens}–{closes})")
    return None


def not_before(day: date, now: datetime) -> str | None:
    """For today (``now`` is the county's local time), the present time rounded up to the next
    5 minutes (HH:MM): no van leaves earlier. None for any later day."""
    if day != now.date():
        return None
    rounded = min(24 * 60 - 1, -(-(now.hour * 60 + now.minute) // 5) * 5)
    return f"{rounded // 60:02d}:{rounded % 60:02d}"


class HubClosed(InvalidInput):
    """The hub has closed for today (a 422 naming ``date``)."""

    def __init__(self, closes: str) -> None:
        super().__init__(f"the hub closed at {closes} today; plan tomorrow",
                         {"date": f"物流中心今天 {closes} 已停止作业 (the hub has closed for today)"})  # fmt: skip


def merge_kept(
    result: dict[str, Any], kept: list[dict[str, Any]], vehicles: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A re-plan's result with the routes of vehicles already out put back unchanged; the totals
    (stops served, km, cost in yuan, vehicles, trips) count the whole day, kept routes included.

    ``vehicles`` are the request's trips: with them each van's fixed cost is counted once over the
    whole day (``charge_fixed_once``), a kept morning trip and a re-planned afternoon trip of the
    same van included. ``status`` is computed again over the whole day (settle_status): a re-plan
    with every van out still serves the kept routes' stops."""
    totals = result.setdefault("totals", {})
    totals["stops_served"] = int(totals.get("stops_served") or 0) + sum(len(r["stops"]) for r in kept)
    totals["distance_km"] = round(float(totals.get("distance_km") or 0) + sum(float(r.get("distance_km") or 0) for r in kept), 2)
    totals["cost"] = round(float(totals.get("cost") or 0) + sum(float(r.get("cost") or 0) for r in kept), 2)
    result["routes"] = [dict(r) for r in kept] + result["routes"]
    return settle_status(annotate_trips(result, vehicles))


def plan_status(served: int, left_out: int) -> str:
    """A plan result's ``status`` (the one rule every path uses): "solved" when nothing is left out,
    "partial" when something is served and something left out, "infeasible" only when nothing is
    served and something is left out. ``served`` counts stops on the final routes (kept routes
    included), ``left_out`` every entry of ``unassigned`` (stops and shipments no stop carries)."""
    if not left_out:
        return "solved"
    return "partial" if served else "infeasible"


def settle_status(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its ``status`` computed from its final routes and ``unassigned`` (plan_status)."""
    served = sum(len(r["stops"]) for r in result.get("routes") or ())
    result["status"] = plan_status(served, len(result.get("unassigned") or ()))
    return result


def _stop_request(stop: DayStop) -> dict[str, Any]:
    hours = stop.site.receiving_hours
    return {
        "id": stop.stop_id,
        "name": stop.site.name if not stop.part else f"{stop.site.name}（{stop.part}/{stop.parts}）",
        "lat": stop.site.lat,
        "lon": stop.site.lon,
        # Every receiving period is a window of its own: a lunch closure is a gap the van must not
        # arrive in (service starts inside one of the periods).
        "window": None,
        "windows": [[a, b] for a, b in hours] if hours else None,
        "service_min": service_minutes(stop),
        "deliver": stop.deliver_l,
        "pickup": stop.pickup_l,
        "priority": stop.priority,
    }


def _ref(stop: DayStop) -> dict[str, Any]:
    site = stop.site
    return {"site": site.code, "name": site.name, "level": site.level, "lat": site.lat, "lon": site.lon,
            "shipment_ids": stop.shipment_ids, "rounds": stop.rounds, "deliver_l": stop.deliver_l,
            "pickup_l": stop.pickup_l, "priority": stop.priority, "part": stop.part, "parts": stop.parts,
            "receiving_hours": [list(h) for h in site.receiving_hours]}  # fmt: skip


# Why no stop carries a shipment (request.unplanned_shipments and the plan result's unassigned): the
# ``rule`` codes, read by machines as the solver's rules are (routing/timing.py RULE_*).
SITE_UNKNOWN = "site_unknown"
SITE_INACTIVE = "site_inactive"
SITE_IS_HUB = "site_is_hub"
NOTHING_TO_MOVE = "nothing_to_move"  # at an active site, but nothing to drop or collect


def unplanned_shipments(shipments: Iterable[Shipment], sites: Iterable[SiteInfo]) -> list[dict[str, Any]]:
    """Each shipment no stop carries, with its site, ``rule`` and why (Chinese first, then English).

    A shipment rides only to an active site other than the hub that dispatch has heard of
    (model.build_day_stops), and only with something to drop or collect."""
    by_code = {s.code: s for s in sites}
    out: list[dict[str, Any]] = []
    for x in shipments:
        site, code = by_code.get(x.site_code), x.site_code
        if site is None:
            rule, why = SITE_UNKNOWN, f"收货单位 {code} 未知 (site {code} is unknown to dispatch)"
        elif not site.active:
            rule, why = SITE_INACTIVE, f"收货单位 {code} 未启用 (site {code} is inactive)"
        elif site.is_hub:
            rule, why = SITE_IS_HUB, f"{code} 是物流中心本身 (site {code} is the hub, where routes start)"
        else:
            rule, why = NOTHING_TO_MOVE, "没有需要送达或收回的货物 (nothing to deliver or collect)"
        out.append({"shipment_id": x.id, "site": code, "rule": rule, "reason": why})
    return out


def usable_compartments(trips: Iterable[Mapping[str, Any]], largest: Mapping[str, float]) -> dict[str, float]:
    """The biggest compartment of each kind among the trips that plan the day (litres), never more
    than ``largest`` (the active fleet's); a kind none of them has is left out."""
    usable: dict[str, float] = {}
    for trip in trips:
        for compartment, litres in trip["compartments"].items():
            usable[compartment] = max(usable.get(compartment, 0.0), float(litres))
    return {c: min(v, largest.get(c, v)) for c, v in usable.items()}


def day_request(
    day: date,
    sites: Iterable[SiteInfo],
    shipments: Iterable[Shipment],
    vehicles: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
    largest: Mapping[str, float],
    exclude: set[str] | frozenset[str] = frozenset(),
    not_before: str | None = None,
    basis: ReplanBasis | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The solve request for a day and its stop references.

    ``not_before`` (HH:MM, for today: the present time) opens the depot no earlier than then, so a
    same-day plan never sends a van out in the past; HubClosed when the hub has already closed.

    One stop per site with anything to move (shipments + rounds due); a site's order larger than
    the compartment of every vehicle that can work that day becomes several stops at that site
    (``split_oversized`` against ``usable_compartments``, each part carried by one of those vehicles). Trips (or
    vehicles) named in ``exclude`` are already out and take no part. Vehicles
    whose shift lies outside the depot's hours are left out (``request["left_out"]``); the others
    run as trips (``trip_vehicles``).
    With a re-plan's ``basis`` the stops are ``replan_stops`` and the gone stops keep their base
    references. ``request["late_shipments"]`` lists the shipments carried after their deliver-by day,
    ``request["unplanned_shipments"]`` those no stop can carry (``unplanned_shipments``: their site
    inactive, unknown or the hub), with a rule code and why; the plan result lists them as unassigned.
    Raises ValueError("no hub") when no hub site is known.
    """
    all_sites = list(sites)
    hub = next((s for s in all_sites if s.is_hub), None)
    if hub is None:
        raise ValueError("no hub")
    opens, closes = depot_hours(hub)
    if not_before is not None and minutes(not_before) > minutes(opens):
        if minutes(not_before) >= minutes(closes):
            raise HubClosed(closes)
        opens = not_before
    left_out = [lo for lo in (screen_vehicle(v, opens, closes) for v in vehicles) if lo is not None]
    out_ids = {lo.vehicle_id for lo in left_out}
    trips = [t for v in vehicles if v["id"] not in out_ids and v["id"] not in exclude for t in trip_vehicles(v)
             if t["id"] not in exclude and screen_vehicle(t, opens, closes) is None]  # fmt: skip
    # Split to what the vehicles planning this day can carry: a bigger compartment on a vehicle left
    # out (shift outside the depot's hours) or already out on a re-plan carries nothing today.
    usable, loads = usable_compartments(trips, largest), [t["compartments"] for t in trips]
    carried = list(shipments)
    built = build_day_stops(day, all_sites, carried)

    def split(stop: DayStop) -> list[DayStop]:
        return split_oversized(stop, usable, vehicles=loads)

    if basis is None:
        stops = [part for stop in built for part in split(stop)]
    else:
        stops = replan_stops(day, basis, built, carried, {s.code: s for s in all_sites}, split)
    gone_refs = [basis.refs.get(g, {}) for g in basis.gone] if basis is not None else []
    on = {i for st in stops for i in st.shipment_ids} | {i for ref in gone_refs for i in ref.get("shipment_ids", [])}
    request = {
        "depot": {"id": hub.code, "lat": hub.lat, "lon": hub.lon, "open": opens, "close": closes},
        "vehicles": trips,
        "stops": [_stop_request(s) for s in stops],
        "options": dict(options),
        "locks": {},
        "initial_routes": None,
        "locked_routes": [],
        "left_out": [{"vehicle": lo.vehicle_id, "field": lo.field, "reason": lo.reason} for lo in left_out],
        "late_shipments": late_shipments(day, stops, carried),
        "unplanned_shipments": unplanned_shipments([x for x in carried if x.id not in on], all_sites),
    }
    refs = {s.stop_id: _ref(s) for s in stops}
    if basis is not None:  # the routes of vehicles out and the stops confirmed keep what they carried
        refs.update({s: dict(basis.refs[s]) for s in sorted(basis.gone) if s in basis.refs})
    refs[hub.code] = {"site": hub.code, "name": hub.name, "lat": hub.lat, "lon": hub.lon, "hub": True,
                      "receiving_hours": [list(h) for h in hub.receiving_hours]}  # fmt: skip
    return request, refs
