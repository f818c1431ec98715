"""What the edge shows of a plan: GeoJSON, driver manifests, the published routes, re-plan comparisons.

Pure functions over a plan row (``request``, ``stop_refs``, ``result``) and the rows they need.
Times of day are HH:MM local (``+1d`` past midnight), volumes litres, distances km, money yuan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from services.dispatch.model import minutes
from services.dispatch.routing.solver import BREAK_CODES, BREAK_NOTES
from services.dispatch.trips import base_vehicle
from shared.clock import LOCAL_TZ

LONG_WAIT_MIN = 20  # a planned wait at a stop this long is printed on the manifest
LANGUAGES = ("zh", "en")  # a label's language: TERMS pairs are (zh, en); zh-CN first, English on request
BETWEEN_TRIPS = "break_between_trips"  # a van's break between two trips of its day (trips.py): not the solver's
BREAK_NOTE_CODES = (*BREAK_CODES, BETWEEN_TRIPS)  # every break code a plan or a manifest may carry
_CODE_OF_SENTENCE = {sentence: code for code, sentence in BREAK_NOTES.items()}  # plans stored before codes


def _sentence(code: str) -> str:
    """The solver's English sentence of a break code, as a label (capitalised)."""
    text = BREAK_NOTES[code]
    return text[:1].upper() + text[1:]


# The words the dispatch pages (board and manifest) and the API's labels use, [Chinese, English]
# per term: one table, so a term is the same word on every page and in both languages. The pages
# get it in their dispatch model (ui/__init__.py); dispatch.js reads it from there. 例行 is the
# rounds' word (例行收送), never a priority's.
TERMS: dict[str, dict[str, tuple[str, str]]] = {
    "priority": {"0": ("低", "Low"), "1": ("普通", "Normal"), "2": ("优先", "High"), "3": ("紧急", "Urgent")},
    "compartment": {"ambient": ("常温", "Ambient"), "cold": ("冷链", "Cold"), "clean": ("洁净", "Clean"),
                    "soiled": ("污染", "Soiled"), "specimen": ("标本", "Specimen")},
    "compartment_long": {
        "ambient": ("常温药品", "Ambient drugs"),
        "cold": ("冷链药品（2–8°C）", "Cold-chain drugs (2–8 °C)"),
        "clean": ("洁净被服/器械包", "Clean linen / sterile sets"),
        "soiled": ("污染被服/器械（回收）", "Soiled linen / used instruments"),
        "specimen": ("检验标本", "Lab specimens"),
    },
    "source": {"event": ("采购出库", "Procurement"), "manual": ("手工加单", "Manual"), "rounds": ("例行收送", "Rounds")},
    "round": {"linen": ("被服", "Linen"), "instruments": ("器械", "Instruments"), "specimens": ("标本", "Specimens")},
    "level": {"county_hospital": ("县级医院", "County hospitals"), "township": ("乡镇卫生院", "Township centres"),
              "village": ("村卫生室", "Village clinics")},
    "plan_status": {
        "queued": ("排队中", "Queued"), "solving": ("求解中", "Solving"), "solved": ("已求解（未发布）", "Solved (not published)"),
        "failed": ("求解失败", "Failed"), "published": ("已发布", "Published"), "superseded": ("已被替代", "Superseded"),
    },
    "result_status": {"solved": ("全部安排", "All stops planned"), "partial": ("部分安排", "Some stops left out"),
                      "infeasible": ("无法安排", "Nothing could be planned")},
    # Why a stop was left out, by the solver's rule (routing/timing.py RULE_*): a rule alone (no vehicle could
    # serve the stop) or the rule that keeps it off every route of the plan (routing/shortage.py); the
    # solver's English sentence, which says which, stays the title.
    "rule": {
        "compartment": ("没有车辆配备所需车厢", "No vehicle has the compartment"),
        "capacity": ("需求超过最大车厢容量", "Demand exceeds every compartment"),
        "travel_time": ("往返路程超过工作时间（太远）", "Round trip longer than the working time (too far)"),
        "service_time": ("作业时间加往返超过工作时间", "Service plus round trip longer than the working time"),
        "window": ("工作时间内无法在收货时段到达", "No receiving period reachable within working time"),
        "depot_hours": ("物流中心营业时间外", "Outside the hub's hours"),
        "break": ("与休息时间冲突，无法安排", "Cannot fit around the break"),
        "max_duration": ("线路时长上限所限，无法安排", "The route duration limit keeps it off every route"),
        "max_distance": ("线路里程上限所限，无法安排", "The route distance limit keeps it off every route"),
        "ride_time": ("标本在途时限所限，无法安排", "The specimen ride-time limit keeps it off every route"),
        "lock": ("固定的车辆无法服务该站点", "The locked vehicle cannot serve it"),
        "not_enough_vehicles": ("车辆不足", "Not enough vehicles"),
        "time_limit": ("时限内未找到方案（延长求解时间可安排）", "Search ran out of time (a longer limit would serve it)"),
        "not_checked": ("未及核查原因（延长求解时间可查明）", "Cause not checked in time (a longer limit would tell)"),
        "no_vehicles": ("没有可用车辆", "No vehicles"),
        # a shipment no stop carries (dayplan.py SITE_UNKNOWN, SITE_INACTIVE, SITE_IS_HUB, NOTHING_TO_MOVE)
        "site_unknown": ("收货单位未知", "Site unknown to dispatch"),
        "site_inactive": ("收货单位未启用", "Site inactive"),
        "site_is_hub": ("收货单位是物流中心本身", "The site is the hub itself"),
        "nothing_to_move": ("没有需要送达或收回的货物", "Nothing to deliver or collect"),
    },
    # Which break rule a route followed, by its code (routing/solver.py BREAK_CODES; the English is the
    # solver's sentence), and a van's break between its trips ({start}/{end}: back at the hub, out again).
    "break_note": {
        "break_on_route": ("午休在途中，在休息时段和工作时间内", _sentence("break_on_route")),
        "break_before_departure": ("午休在出发前，于物流中心，在休息时段和工作时间内", _sentence("break_before_departure")),
        "break_after_return": ("午休前已回中心：午休在物流中心，本趟之后", _sentence("break_after_return")),
        "break_not_owed_short_window": ("无需午休：休息时段在工作时间内放不下", _sentence("break_not_owed_short_window")),
        "break_not_owed_outside_working_time": ("无需午休：休息时段完全在工作时间之外",
                                                _sentence("break_not_owed_outside_working_time")),
        BETWEEN_TRIPS: ("午休与装货在物流中心 {start}–{end}", "Break and reload at the hub {start}–{end}"),
    },
    # A trip of a van's day ({n} its number) and the joiners of lists, per language.
    "pattern": {"trip": ("第{n}趟", "Trip {n}"), "list": ("、", ", "), "clauses": ("；", "; "), "parts": ("，", ", ")},
}  # fmt: skip
PRIORITY_LABELS = {int(level): zh for level, (zh, _en) in TERMS["priority"].items()}  # the API's priority_label


def label(kind: str, key: str, lang: str = "zh", **values: str) -> str:
    """A term in one language ("zh" or "en"), its {placeholders} filled; the key itself if the table lacks it."""
    pair = TERMS[kind].get(key)
    return (pair[LANGUAGES.index(lang)] if pair else key).format(**values)


def break_code(route: Mapping[str, Any]) -> str:
    """A plan route's break code (BREAK_CODES); a plan stored before codes has only the solver's sentence."""
    return str(route.get("break_code") or _CODE_OF_SENTENCE.get(route.get("break_note") or "", ""))


def with_break_codes(plan: Mapping[str, Any]) -> dict[str, Any]:
    """A plan (or a solve's answer) whose every route carries its ``break_code`` (routing README, breaks)."""
    result = plan.get("result") if "result" in plan else plan
    if not isinstance(result, Mapping) or "routes" not in result:
        return dict(plan)
    routes = [{**r, "break_code": break_code(r)} for r in result["routes"]]
    if "result" in plan:
        return {**plan, "result": {**result, "routes": routes}}
    return {**plan, "routes": routes}


def break_notes(legs: list[Mapping[str, Any]], lang: str = "zh") -> list[dict[str, Any]]:
    """A van's break rules of the day in trip order: each leg's (``code``, ``trip``) and, between two trips,
    ``break_between_trips`` with the hub time (``start``, ``end`` HH:MM); ``label`` in ``lang``."""
    notes: list[dict[str, Any]] = []
    for k, leg in enumerate(legs):
        if code := break_code(leg):
            notes.append({"code": code, "trip": leg.get("trip", 1), "start": None, "end": None})
        if k + 1 < len(legs):
            hub = {"start": leg["end"], "end": legs[k + 1]["start"]}
            notes.append({"code": BETWEEN_TRIPS, "trip": leg.get("trip", 1), **hub})
    times = ({"start": n["start"] or "", "end": n["end"] or ""} for n in notes)
    return [{**n, "label": label("break_note", n["code"], lang, **t)} for n, t in zip(notes, times, strict=True)]


def eta(day: date, hhmm_text: str) -> str:
    """ISO timestamp (local zone) of an HH:MM[+Nd] time on a day."""
    clock = hhmm_text.split("+")[0]
    extra_days = int(hhmm_text.split("+")[1][:-1]) if "+" in hhmm_text else 0
    local = datetime.combine(day + timedelta(days=extra_days), datetime.strptime(clock, "%H:%M").time(), LOCAL_TZ)
    return local.isoformat()


def _clock_min(hhmm_text: str) -> int:
    clock = hhmm_text.split("+")[0]
    extra_days = int(hhmm_text.split("+")[1][:-1]) if "+" in hhmm_text else 0
    return minutes(clock) + 24 * 60 * extra_days


def published_routes(plan: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The routes as dispatch.plan.published carries them, and the shipment ids they carry."""
    day = date.fromisoformat(plan["date"])
    refs = plan["stop_refs"]
    routes: list[dict[str, Any]] = []
    shipment_ids: list[str] = []
    by_vehicle: dict[str, list[Mapping[str, Any]]] = {}
    for route in plan["result"]["routes"]:  # a vehicle's trips become one route in trip order
        by_vehicle.setdefault(route.get("vehicle_id", route["vehicle"]), []).append(route)
    for vehicle_id, legs in by_vehicle.items():
        stops = []
        for seq, stop in enumerate([s for leg in legs for s in leg["stops"]], start=1):
            ref = refs.get(stop["id"], {})
            ids = ref.get("shipment_ids", [])
            shipment_ids += [i for i in ids if i not in shipment_ids]
            stops.append({"stop_id": stop["id"], "site_code": ref.get("site", stop["id"]), "sequence": seq,
                          "eta": eta(day, stop["arrival"]), "shipment_ids": ids})  # fmt: skip
        routes.append({"vehicle_id": vehicle_id, "stops": stops,
                       "distance_km": round(sum(leg["distance_km"] for leg in legs), 2)})  # fmt: skip
    return routes, shipment_ids


def geojson(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The plan's routes as a GeoJSON FeatureCollection (a line per vehicle, a point per stop)."""
    refs = plan["stop_refs"]
    hub = next((code for code, r in refs.items() if r.get("hub")), None)
    features: list[dict[str, Any]] = []
    for route in (plan.get("result") or {}).get("routes", []):
        path = [hub, *[s["id"] for s in route["stops"]], hub]
        coords = [[refs[c]["lon"], refs[c]["lat"]] for c in path if c in refs]
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                         "properties": {"vehicle": route["vehicle"], "vehicle_id": route.get("vehicle_id", route["vehicle"]),
                                        "trip": route.get("trip", 1), "distance_km": route["distance_km"]}})  # fmt: skip
        for seq, stop in enumerate(route["stops"], start=1):
            ref = refs.get(stop["id"], {})
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [ref.get("lon"), ref.get("lat")]},
                             "properties": {"vehicle": route["vehicle"], "sequence": seq, "site": ref.get("site", stop["id"]),
                                            "name": ref.get("name"), "arrival": stop["arrival"],
                                            "trip": stop.get("trip", 1)}})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _items(shipment: Mapping[str, Any], names: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    out = []
    for line in shipment.get("lines") or []:
        code = line.get("item_code")
        known = names.get(code or "", {})
        out.append({"item_code": code, "name": line.get("name") or known.get("name") or code,
                    "quantity": line.get("quantity"), "unit": line.get("unit") or known.get("unit") or "",
                    "compartment": line.get("compartment")})  # fmt: skip
    return out


def manifest(
    plan: Mapping[str, Any],
    vehicle_id: str,
    vehicle: Mapping[str, Any] | None,
    shipments: Mapping[str, Mapping[str, Any]],
    sites: Mapping[str, Mapping[str, Any]],
    item_names: Mapping[str, Mapping[str, str]],
    lang: str = "zh",
) -> dict[str, Any] | None:
    """One vehicle's driver manifest (司机配送单), or None when the vehicle has no route on the plan.

    The vehicle's trips of the day (back at the hub for the break and a reload between them) are
    listed in order. Per stop: sequence and trip, site name/address/phone/receiving hours, priority (紧急 …), notes,
    the items and quantities to drop (and litres per compartment to drop and collect), the rounds,
    arrival, start and the planned wait when it is at least LONG_WAIT_MIN minutes; a split load's
    part ("2/3"). The header names the vehicle and its driver. Labels (``priority_label``, ``break_note``:
    the break rules of ``break_notes`` joined) are in ``lang`` ("zh" or "en"); the codes in any language.
    """
    legs = [r for r in (plan.get("result") or {}).get("routes", []) if vehicle_id in (r["vehicle"], r.get("vehicle_id"))]
    if not legs:
        return None
    refs = plan["stop_refs"]
    notes = break_notes(legs, lang)
    stops = []
    for seq, stop in enumerate([s for leg in legs for s in leg["stops"]], start=1):
        ref = refs.get(stop["id"], {})
        site = sites.get(ref.get("site", stop["id"]), {})
        carried = [shipments[i] for i in ref.get("shipment_ids", []) if i in shipments]
        wait = max(0, _clock_min(stop["start"]) - _clock_min(stop["arrival"]))
        priority = max([int(ref.get("priority", 1)), *[int(s.get("priority", 1)) for s in carried]])
        stops.append({
            "sequence": seq, "trip": stop.get("trip", 1), "stop_id": stop["id"], "site_code": ref.get("site", stop["id"]),
            "name": ref.get("name") or stop.get("name"), "address": site.get("address"), "phone": site.get("phone"),
            "receiving_hours": ref.get("receiving_hours") or [], "priority": priority,
            "priority_label": label("priority", str(priority), lang),
            "notes": [s["note"] for s in carried if s.get("note")],
            "shipments": [{"id": s["id"], "items": _items(s, item_names), "deliver_l": s.get("deliver_l", {}),
                           "pickup_l": s.get("pickup_l", {})} for s in carried],
            "rounds": ref.get("rounds", []), "deliver_l": ref.get("deliver_l", {}), "pickup_l": ref.get("pickup_l", {}),
            "part": ref.get("part", 0), "parts": ref.get("parts", 1),
            "arrival": stop["arrival"], "start": stop["start"], "departure": stop["departure"],
            "wait_min": wait if wait >= LONG_WAIT_MIN else None,
        })  # fmt: skip
    return {
        "plan_id": plan["id"], "date": plan["date"], "status": plan["status"], "vehicle_id": vehicle_id,
        "vehicle_name": (vehicle or {}).get("name"), "driver": (vehicle or {}).get("driver"),
        "start": legs[0]["start"], "end": legs[-1]["end"], "break": legs[0].get("break"),
        "break_note": label("pattern", "clauses", lang).join(n["label"] for n in notes), "break_notes": notes,
        "distance_km": round(sum(leg["distance_km"] for leg in legs), 2),
        "trips": [{"trip": leg.get("trip", 1), "start": leg["start"], "end": leg["end"], "load_out": leg.get("load_out", {}),
                   "distance_km": leg["distance_km"], "stops": len(leg["stops"])} for leg in legs],
        "stops": stops,
    }  # fmt: skip


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Before/after of a re-plan: cost, km, vehicles, stops served, and the stops that moved.

    A stop "moved" when it changed vehicle or trip ("<van>~<k>"), was newly served or newly left
    out; ``vehicles_added``/``vehicles_removed`` name vans (a van's second trip is not a vehicle
    added); ``delta`` is after minus before (cost in yuan, distance in km)."""
    def where(plan: Mapping[str, Any]) -> dict[str, str]:
        return {s["id"]: r["vehicle"] for r in (plan.get("result") or {}).get("routes", []) for s in r["stops"]}

    def totals(plan: Mapping[str, Any]) -> dict[str, Any]:
        t = dict((plan.get("result") or {}).get("totals") or {})
        # vans, not trips: a van that gains its afternoon trip is no vehicle added
        t["vehicle_ids"] = sorted({r.get("vehicle_id") or base_vehicle(r["vehicle"])[0]
                                   for r in (plan.get("result") or {}).get("routes", [])})
        return t

    old, new = where(before), where(after)
    moved = [{"stop_id": s, "name": after["stop_refs"].get(s, before["stop_refs"].get(s, {})).get("name"),
              "before": old.get(s), "after": new.get(s)}
             for s in sorted(set(old) | set(new)) if old.get(s) != new.get(s)]  # fmt: skip
    tb, ta = totals(before), totals(after)
    delta = {k: round(float(ta.get(k) or 0) - float(tb.get(k) or 0), 2) for k in ("cost", "distance_km", "vehicles", "stops_served")}
    return {"before_plan_id": before["id"], "after_plan_id": after["id"], "before": tb, "after": ta, "delta": delta,
            "vehicles_added": sorted(set(ta["vehicle_ids"]) - set(tb["vehicle_ids"])),
            "vehicles_removed": sorted(set(tb["vehicle_ids"]) - set(ta["vehicle_ids"])), "moved": moved}  # fmt: skip


def is_shipment_entry(entry: Mapping[str, Any]) -> bool:
    """True for an entry of a plan's ``unassigned`` that is a shipment no stop carries (planning.unplanned):
    identified by its ``shipment_id``, belonging to its ``site``; its ``id`` may equal a stop's."""
    return "shipment_id" in entry


def site_entries(unassigned: Iterable[Mapping[str, Any]], site: str, stop_ids: Iterable[str]) -> list[Mapping[str, Any]]:
    """The entries of ``unassigned`` a site's storekeeper sees: a stop entry when its ``id`` is one of
    the site's stops (``stop_ids``), a shipment entry exactly when its ``site`` is theirs."""
    stops = set(stop_ids)
    return [u for u in unassigned if (u.get("site") == site if is_shipment_entry(u) else u["id"] in stops)]


def for_site(plan: Mapping[str, Any], site: str) -> dict[str, Any]:
    """A plan cut down to one site's stops (what a storekeeper may see: when their delivery comes),
    and the site's own entries left out (site_entries)."""
    refs = {k: v for k, v in plan["stop_refs"].items() if v.get("site") == site}
    result = plan.get("result")
    if result:
        routes = [{**r, "stops": [s for s in r["stops"] if s["id"] in refs]} for r in result["routes"]]
        result = {**result, "routes": [r for r in routes if r["stops"]],
                  "unassigned": site_entries(result["unassigned"], site, refs), "totals": None}  # fmt: skip
    return {**plan, "stop_refs": refs, "result": result, "request": {}}
