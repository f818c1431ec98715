"""marshmallow schemas of the dispatch API, above all the self-contained solve problem.

Every number has a documented range (shown in the OpenAPI document). The ranges of costs, volumes,
times and sizes come from the routing core's limits (services/dispatch/routing/limits.py,
converted from its integer units: fen, millilitres, seconds), within which its integer scaling is
proven never to overflow; so no input these schemas accept can make a solve fail. Loaded input
becomes the domain's typed commands (services/dispatch/commands.py) in ``post_load``.
"""

from __future__ import annotations

import math
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from services.dispatch import commands
from services.dispatch.model import COMPARTMENTS, minutes
from services.dispatch.routing import limits
from services.dispatch.schemas_volumes import VOLUME_MAX as VOLUME_MAX  # litres, re-exported
from services.dispatch.schemas_volumes import volumes
from services.dispatch.time_ranges import out_of_order
from shared.repeats import repeats
from shared.text import Text, TextKeyDict

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d\Z", error="a time of day as HH:MM")  # \Z: "$" lets "07:30\n" through
ID = validate.Length(min=1, max=60)
MONEY_SCALE = 100  # fen per yuan (planning.py); volumes: model.VOLUME_SCALE millilitres per litre
FIXED_COST_MAX = limits.FIXED_COST_MAX / MONEY_SCALE  # yuan
COST_PER_KM_MAX = limits.COST_PER_KM_MAX / MONEY_SCALE  # yuan per km
SERVICE_MAX_MIN = min(600, limits.SERVICE_MAX // 60)
# Every stop lies within this great-circle distance of the depot (a county's day, not a continent):
# with circuity <= CIRCUITY_MAX and speed >= 5 km/h no arc exceeds the core's ARC_DISTANCE_MAX and
# ARC_DURATION_MAX (1,000 km x 2.4 = 2,400 km; 2,400 km / 5 km/h = 480 h < 720 h).
STOP_RADIUS_KM = 1000
CIRCUITY_MAX = 2.4


class Strict(Schema):
    """Unknown fields are errors."""

    class Meta:
        unknown = RAISE


def _window_field(**kwargs: Any) -> fields.List:
    return fields.List(fields.String(validate=HHMM), validate=validate.Length(equal=2, error="[start, end]"), **kwargs)


def _check_window(window: list[str] | None, field: str) -> None:
    why = out_of_order(window[0], window[1], field) if window else None
    if why:
        raise ValidationError({field: [why]})


class DepotIn(Strict):
    """The hub every route starts and ends at."""

    id = Text(required=True, validate=ID)
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    open = fields.String(load_default="00:00", validate=HHMM)
    close = fields.String(load_default="23:59", validate=HHMM)

    @validates_schema
    def _hours(self, data: dict[str, Any], **_: Any) -> None:
        if minutes(data["close"]) <= minutes(data["open"]):
            raise ValidationError({"close": ["the depot closes before it opens"]})


class BreakIn(Strict):
    """A driver's break: so many minutes somewhere inside a window."""

    window = _window_field(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=240))

    @validates_schema
    def _fits(self, data: dict[str, Any], **_: Any) -> None:
        _check_window(data["window"], "window")
        span = minutes(data["window"][1]) - minutes(data["window"][0])
        if data["minutes"] > span:
            raise ValidationError({"minutes": [f"longer than its window ({span} min)"]})


class VehicleIn(Strict):
    """One vehicle: compartments in litres, shift, break, costs."""

    id = Text(required=True, validate=ID)
    compartments = volumes(required=True, validate=validate.Length(min=1))
    shift = _window_field(required=True)
    break_ = fields.Nested(BreakIn, data_key="break", load_default=None, allow_none=True)
    fixed_cost = fields.Float(load_default=0, validate=validate.Range(min=0, max=FIXED_COST_MAX))
    cost_per_km = fields.Float(load_default=1, validate=validate.Range(min=0, max=COST_PER_KM_MAX))
    max_route_min = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=24 * 60))
    max_km = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2000))

    @validates_schema
    def _shift(self, data: dict[str, Any], **_: Any) -> None:
        _check_window(data["shift"], "shift")


class StopIn(Strict):
    """One site to visit: what to drop and collect, when it receives, how long it takes."""

    id = Text(required=True, validate=ID)
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    window = _window_field(load_default=None, allow_none=True)
    windows = fields.List(_window_field(), load_default=None, allow_none=True, validate=validate.Length(min=1, max=6),
                          metadata={"description": "receiving periods (a lunch closure is the gap between two)"})
    service_min = fields.Float(load_default=5, validate=validate.Range(min=0, max=SERVICE_MAX_MIN))
    deliver = volumes(load_default=dict)
    pickup = volumes(load_default=dict)
    priority = fields.Integer(load_default=1, validate=validate.Range(min=0, max=3))
    name = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        _check_window(data.get("window"), "window")
        if data.get("window") and data.get("windows"):
            raise ValidationError({"windows": ["give either window or windows"]})
        for i, w in enumerate(data.get("windows") or []):
            why = out_of_order(w[0], w[1])
            if why:
                raise ValidationError({"windows": {i: [why]}})


class OptionsIn(Strict):
    """How to solve."""

    time_limit_s = fields.Float(load_default=10, validate=validate.Range(min=0.2, max=300))
    speed_kmh = fields.Float(load_default=40, validate=validate.Range(min=5, max=130))
    circuity = fields.Float(load_default=1.3, validate=validate.Range(min=1, max=CIRCUITY_MAX))
    specimen_max_ride_min = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=10, max=1440))
    minimize_vehicles = fields.Boolean(load_default=False)
    workers = fields.Integer(load_default=1, validate=validate.Range(min=1, max=8))


class SolveIn(Strict):
    """A self-contained routing problem."""

    depot = fields.Nested(DepotIn, required=True)
    vehicles = fields.List(fields.Nested(VehicleIn), required=True, validate=validate.Length(min=1, max=300))
    stops = fields.List(fields.Nested(StopIn), required=True, validate=validate.Length(max=limits.STOPS_MAX))
    options = fields.Nested(OptionsIn, load_default=lambda: OptionsIn().load({}))
    # Ids go through the text rule like every name (shared/text.py): NFKC, trimmed, control characters refused.
    locks = TextKeyDict(keys=Text(required=True, validate=ID), values=Text(required=True, validate=ID), load_default=dict)
    initial_routes = TextKeyDict(keys=Text(required=True, validate=ID), values=fields.List(Text(required=True, validate=ID)),
                                 load_default=None, allow_none=True)  # fmt: skip
    # at most one per vehicle (the fleet's 300): unbounded, one name 30,000 times took seconds
    locked_routes = fields.List(Text(required=True, validate=ID), load_default=list, validate=validate.Length(max=300))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        stop_ids = [s["id"] for s in data["stops"]]
        vehicle_ids = [v["id"] for v in data["vehicles"]]
        for name, ids in (("stops", stop_ids), ("vehicles", vehicle_ids)):
            seen: set[str] = set()
            for i, value in enumerate(ids):
                if value in seen:
                    errors.setdefault(name, {})[i] = {"id": [f"duplicate id {value}"]}
                seen.add(value)
        if data["depot"]["id"] in stop_ids:
            errors.setdefault("depot", {})["id"] = ["a stop has the depot's id"]
        opens, closes = data["depot"]["open"], data["depot"]["close"]
        for i, v in enumerate(data["vehicles"]):
            start, end = v["shift"]
            if minutes(end) <= minutes(opens) or minutes(start) >= minutes(closes):
                errors.setdefault("vehicles", {}).setdefault(i, {})["shift"] = [
                    f"vehicle {v['id']}: shift {start}–{end} lies outside the depot's hours {opens}–{closes}"
                ]
        for i, stop in enumerate(data["stops"]):
            km = _great_circle_km(data["depot"]["lat"], data["depot"]["lon"], stop["lat"], stop["lon"])
            if km > STOP_RADIUS_KM:
                errors.setdefault("stops", {}).setdefault(i, {})["lat"] = [
                    f"stop {stop['id']} is {km:.0f} km from the depot (at most {STOP_RADIUS_KM} km)"
                ]
        largest = {c: max(v["compartments"].get(c, 0) for v in data["vehicles"]) for c in COMPARTMENTS}
        for i, stop in enumerate(data["stops"]):
            for side in ("deliver", "pickup"):
                for compartment, litres in stop[side].items():
                    if litres > 0 and largest[compartment] <= 0:
                        errors.setdefault("stops", {}).setdefault(i, {}).setdefault(side, {})[compartment] = [
                            f"stop {stop['id']}: no vehicle has {'an' if compartment[:1] in 'aeiou' else 'a'} {compartment} compartment"
                        ]
                    elif litres > largest[compartment]:
                        errors.setdefault("stops", {}).setdefault(i, {}).setdefault(side, {})[compartment] = [
                            f"stop {stop['id']}: {litres:g} L exceeds the largest {compartment} compartment "
                            f"({largest[compartment]:g} L); day plans split such loads, a solve does not"
                        ]
        known_stops, known_vehicles = set(stop_ids), set(vehicle_ids)  # locks and routes are unbounded: no list scans
        for stop_id, vehicle_id in data["locks"].items():
            if stop_id not in known_stops:
                errors.setdefault("locks", {})[stop_id] = ["no such stop"]
            elif vehicle_id not in known_vehicles:
                errors.setdefault("locks", {})[stop_id] = [f"no vehicle {vehicle_id}"]
        # each problem at its index (locked_routes[i]), as a re-plan names them
        again = repeats(data["locked_routes"])
        for i, vehicle_id in enumerate(data["locked_routes"]):
            if vehicle_id not in known_vehicles:
                errors.setdefault("locked_routes", {})[i] = [f"no vehicle {vehicle_id}"]
            elif i in again:
                errors.setdefault("locked_routes", {})[i] = [f"vehicle {vehicle_id} is already at locked_routes[{again[i]}]"]
        locked_on = {s: v for v in reversed(data["locked_routes"]) for s in (data.get("initial_routes") or {}).get(v, ())}
        for stop_id, vehicle_id in data["locks"].items():
            on = locked_on.get(stop_id)
            if on is not None and on != vehicle_id and vehicle_id in known_vehicles:
                errors.setdefault("locks", {})[stop_id] = [
                    f"stop {stop_id} is on {on}'s locked route; it cannot also be locked to {vehicle_id}"
                ]
        placed: dict[str, str] = {}  # a stop rides on one route at most once
        for vehicle_id, route in (data.get("initial_routes") or {}).items():
            if vehicle_id not in known_vehicles:
                errors.setdefault("initial_routes", {})[vehicle_id] = ["no such vehicle"]
            elif any(s not in known_stops for s in route):
                errors.setdefault("initial_routes", {})[vehicle_id] = ["names a stop that is not in the problem"]
            for s in route:
                if s in placed:
                    where = "twice on this route" if placed[s] == vehicle_id else f"already on {placed[s]}"
                    errors.setdefault("initial_routes", {})[vehicle_id] = [f"stop {s} is {where}"]
                placed.setdefault(s, vehicle_id)
        if errors:
            raise ValidationError(errors)


def _great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


class ItemIn(Strict):
    """One line of a hand-made shipment (what the driver hands over)."""

    name = Text(required=True, validate=validate.Length(min=1, max=120))
    quantity = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1_000_000))
    unit = Text(load_default="件", validate=validate.Length(min=1, max=20))
    item_code = Text(load_default=None, allow_none=True, validate=ID)

    @post_load
    def _item(self, data: dict[str, Any], **_: Any) -> commands.ShipmentItem:
        return commands.ShipmentItem(**{**data, "unit": data.get("unit") or "件"})  # a blank unit is the default


class ShipmentIn(Strict):
    """A dispatcher's hand-made shipment."""

    site_code = Text(required=True, upper=True, validate=ID)
    deliver = volumes(load_default=dict)
    pickup = volumes(load_default=dict)
    priority = fields.Integer(load_default=2, validate=validate.Range(min=0, max=3))
    deliver_by = fields.Date(load_default=None, allow_none=True)
    note = Text(load_default=None, allow_none=True, multiline=True, validate=validate.Length(max=500))
    items = fields.List(fields.Nested(ItemIn), load_default=list, validate=validate.Length(max=200))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> commands.AddShipment:
        return commands.AddShipment(data["site_code"], data["deliver"], data["pickup"], data["priority"],
                                    data["deliver_by"], data["note"], tuple(data["items"]))  # fmt: skip

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not any(data["deliver"].values()) and not any(data["pickup"].values()):
            raise ValidationError("name something to deliver or collect", "deliver")
        if any(c in ("soiled", "specimen") for c, v in data["deliver"].items() if v):
            raise ValidationError({"deliver": ["soiled goods and specimens are collected, not delivered"]})
        if any(c in ("ambient", "cold", "clean") for c, v in data["pickup"].items() if v):
            raise ValidationError({"pickup": ["clean goods and drugs are delivered, not collected"]})


class ShipmentQuery(Strict):
    """Shipment list filter."""

    status = fields.String(load_default="pending",
                           validate=validate.OneOf(("pending", "planned", "delivered", "cancelled", "all")))
    site = Text(upper=True, load_default=None, allow_none=True, validate=ID)

    @post_load
    def _filter(self, data: dict[str, Any], **_: Any) -> commands.ShipmentFilter:
        return commands.ShipmentFilter(data["status"], data["site"])


class PlanIn(Strict):
    """Plan a day."""

    date = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "any day from today up to 31 days ahead (dayplan.PLAN_HORIZON_DAYS; later: 422 naming date); "
                       "tomorrow by default"})  # fmt: skip
    time_limit_s = fields.Float(load_default=20, validate=validate.Range(min=0.5, max=300))
    workers = fields.Integer(load_default=2, validate=validate.Range(min=1, max=8))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> commands.PlanDay:
        return commands.PlanDay(data["date"], data["time_limit_s"], data["workers"])


class ReplanIn(Strict):
    """Re-plan after a change: locks, locked routes, vehicles already out."""

    locks = TextKeyDict(keys=Text(required=True, validate=ID), values=Text(required=True, validate=ID), load_default=dict)
    locked_routes = fields.List(Text(required=True, validate=ID), load_default=list, validate=validate.Length(max=300))
    vehicles_out = fields.List(Text(required=True, validate=ID), load_default=list, validate=validate.Length(max=300))
    time_limit_s = fields.Float(load_default=3, validate=validate.Range(min=0.5, max=120))

    @validates_schema
    def _each_vehicle_once(self, data: dict[str, Any], **_: Any) -> None:
        """A vehicle named twice in one list means nothing more than once (a locked route twice was refused
        later by the solve's screening, without naming where): 422 naming each repeat's index."""
        errors: dict[str, dict[int, list[str]]] = {}
        for name in ("locked_routes", "vehicles_out"):
            listed = data.get(name) or ()
            for i, j in repeats(listed).items():
                errors.setdefault(name, {})[i] = [f"vehicle {listed[i]} is already at {name}[{j}]"]
        if errors:
            raise ValidationError(errors)  # type: ignore[arg-type]

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> commands.Replan:
        return commands.Replan("", data["locks"], tuple(data["locked_routes"]), tuple(data["vehicles_out"]), data["time_limit_s"])


class LanguageQuery(Strict):
    """Which language an answer's labels speak (presentation.TERMS): zh-CN first, English on request."""

    lang = fields.String(load_default="zh", validate=validate.OneOf(("zh", "en")))


class PlanQuery(Strict):
    """Plan list filter."""

    date = fields.Date(load_default=None, allow_none=True)


class CompleteIn(Strict):
    """A driver's confirmation at a stop."""

    received_by = Text(load_default=None, allow_none=True, validate=validate.Length(max=120))
    exceptions = fields.List(Text(required=True, multiline=True, validate=validate.Length(max=300)), load_default=list,
                             validate=validate.Length(max=50))  # a driver notes a few, not thousands

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> commands.CompleteStop:
        return commands.CompleteStop("", "", data["received_by"], tuple(data["exceptions"]))


# "~" joins a van's id and its trip number in a day plan ("LC-1~2", trips.TRIP_SEPARATOR): a fleet
# van called "K~2" would read as trip 2 of van K, and "A~2" beside van A would share A's trip id
FLEET_ID = [ID, validate.Regexp(r"^[^~]*\Z", error="车辆编号不能含 ~（~ 用于区分同车的趟次） (a vehicle id may not contain ~: it marks a van's trips)")]


class VehicleRowIn(Strict):
    """A vehicle of the fleet."""

    id = Text(required=True, validate=FLEET_ID)
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    compartments_l = volumes(required=True, validate=validate.Length(min=1))
    shift_start = fields.String(load_default="07:30", validate=HHMM)
    shift_end = fields.String(load_default="17:30", validate=HHMM)
    break_start = fields.String(load_default="11:30", allow_none=True, validate=HHMM)
    break_end = fields.String(load_default="13:30", allow_none=True, validate=HHMM)
    break_min = fields.Integer(load_default=45, allow_none=True, validate=validate.Range(min=1, max=240))
    max_route_min = fields.Integer(load_default=600, allow_none=True, validate=validate.Range(min=30, max=1440))
    max_km = fields.Float(load_default=400, allow_none=True, validate=validate.Range(min=1, max=2000))
    fixed_cost = fields.Float(load_default=200, validate=validate.Range(min=0, max=FIXED_COST_MAX))
    cost_per_km = fields.Float(load_default=2.5, validate=validate.Range(min=0, max=COST_PER_KM_MAX))
    active = fields.Boolean(load_default=True)
    driver = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> commands.UpsertVehicle:
        return commands.UpsertVehicle(**data)

    @validates_schema
    def _times(self, data: dict[str, Any], **_: Any) -> None:
        why = out_of_order(data["shift_start"], data["shift_end"], "shift")
        if why:
            raise ValidationError({"shift_end": [why]})
        parts = [data.get(k) for k in ("break_start", "break_end", "break_min")]
        if any(p is not None for p in parts) and any(p is None for p in parts):
            missing = next(k for k, p in zip(("break_start", "break_end", "break_min"), parts, strict=True) if p is None)
            raise ValidationError({missing: ["a break needs its window start, end and minutes (or none of them)"]})
        if data.get("break_start") and data.get("break_end"):
            span = minutes(data["break_end"]) - minutes(data["break_start"])
            why = out_of_order(data["break_start"], data["break_end"], "break window")
            if why:
                raise ValidationError({"break_end": [why]})
            if data["break_min"] > span:
                raise ValidationError({"break_min": [f"longer than its window ({span} min)"]})


class CompareQuery(Strict):
    """Which plan to compare with (the base plan by default)."""

    with_ = Text(data_key="with", load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))
