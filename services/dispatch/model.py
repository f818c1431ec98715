"""Dispatch's domain: shipments waiting for a vehicle, recurring logistics rounds, the fleet, a day's stops.

Pure Python. Volumes are litres per compartment. Deliveries ride out from the hub in the
ambient, cold (2–8 °C) and clean compartments; soiled linen, used instruments and specimens ride
back in the soiled and specimen compartments, so clean and soiled goods never share one.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

COMPARTMENTS = ("ambient", "cold", "clean", "soiled", "specimen")
VOLUME_SCALE = 1000  # millilitres per litre: volumes are whole millilitres in the routing core and in split parts
DELIVERY_COMPARTMENTS = ("ambient", "cold", "clean")
PICKUP_COMPARTMENTS = ("soiled", "specimen")
STORAGE_COMPARTMENT = {"ambient": "ambient", "cool": "ambient", "cold": "cold", "frozen": "cold"}

# Litres a round moves per visit, by site level: a township centre's daily linen and instrument
# exchange is a few trolleys; a village clinic's weekly one is a bag or two.
ROUND_VOLUMES: Mapping[str, Mapping[str, Mapping[str, float]]] = {
    "county_hospital": {"linen": {"clean": 200, "soiled": 180}, "instruments": {"clean": 60, "soiled": 50},
                        "specimens": {"specimen": 8}},
    "township": {"linen": {"clean": 120, "soiled": 100}, "instruments": {"clean": 40, "soiled": 30},
                 "specimens": {"specimen": 5}},
    "village": {"linen": {"clean": 20, "soiled": 15}, "instruments": {"clean": 8, "soiled": 6},
                "specimens": {"specimen": 1.5}},
}  # fmt: skip
DEFAULT_ROUNDS: Mapping[str, Mapping[str, str]] = {
    "county_hospital": {"linen": "daily", "instruments": "daily", "specimens": "daily"},
    "township": {"linen": "daily", "instruments": "daily", "specimens": "daily"},
    "village": {"linen": "weekly", "instruments": "weekly", "specimens": "twice_weekly"},
}
FREQUENCIES = ("daily", "twice_weekly", "weekly", "none")
# A split load's parts are never smaller than this (litres per compartment): below it a part is
# not worth a vehicle's stop, and the order is refused instead (no vehicle could carry it).
MIN_SPLIT_L = 10.0
MAX_PARTS = 20  # a site's order needing more vehicle loads than this is refused, not split
PART_SEPARATOR = "~"  # stop id of the k-th part of a split site order: "<site>~<k>" (URL-safe)


def minutes(hhmm: str) -> int:
    """Minutes after midnight of an HH:MM time."""
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


@dataclass(frozen=True)
class SiteInfo:
    """What dispatch knows of a site (from formulary.site.upserted)."""

    code: str
    name: str
    level: str
    lat: float
    lon: float
    receiving_hours: tuple[tuple[str, str], ...]
    is_hub: bool = False
    active: bool = True


@dataclass(frozen=True)
class Shipment:
    """Goods for (and/or collections from) one site, waiting to be planned."""

    id: str
    site_code: str
    deliver_l: Mapping[str, float]
    pickup_l: Mapping[str, float] = field(default_factory=dict)
    priority: int = 1
    source: str = "manual"
    note: str | None = None
    deliver_by: date | None = None  # the latest day it may arrive (an urgent requisition: the day it was approved)

    def priority_on(self, day: date) -> int:
        """Its priority when planning ``day``: at least HIGH (2) once its deliver-by day has come, so a
        shipment due that day never loses its place to routine rounds (it is late tomorrow)."""
        if self.deliver_by is not None and self.deliver_by <= day:
            return max(self.priority, DUE_PRIORITY)
        return self.priority


DUE_PRIORITY = 2  # HIGH (problem.Priority): what a shipment due on the planned day is raised to


def visit_weekday(site_code: str) -> int:
    """The weekday (Mon=0 … Fri=4) a site's weekly round falls on, stable across restarts."""
    return zlib.crc32(site_code.encode()) % 5


def round_due(frequency: str, site_code: str, day: date) -> bool:
    """True when a round of this frequency visits the site on that day."""
    weekday = day.weekday()
    if frequency == "daily":
        return weekday < 6  # rounds run Monday to Saturday
    first = visit_weekday(site_code)
    if frequency == "weekly":
        return weekday == first
    if frequency == "twice_weekly":
        return weekday in (first, (first + 3) % 6)
    return False


def rounds_for(site: SiteInfo, day: date, overrides: Mapping[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Deliver and pickup litres the recurring rounds bring to a site on a day."""
    out: dict[str, dict[str, float]] = {"deliver": {}, "pickup": {}}
    if site.is_hub:
        return out
    plan = {**DEFAULT_ROUNDS.get(site.level, {}), **(overrides or {})}
    volumes = ROUND_VOLUMES.get(site.level, {})
    for round_name, frequency in plan.items():
        if not round_due(frequency, site.code, day):
            continue
        for compartment, litres in volumes.get(round_name, {}).items():
            side = "pickup" if compartment in PICKUP_COMPARTMENTS else "deliver"
            out[side][compartment] = out[side].get(compartment, 0.0) + litres
    return out


@dataclass
class DayStop:
    """Everything a vehicle drops and collects at one site on one day."""

    site: SiteInfo
    deliver_l: dict[str, float] = field(default_factory=dict)
    pickup_l: dict[str, float] = field(default_factory=dict)
    shipment_ids: list[str] = field(default_factory=list)
    rounds: list[str] = field(default_factory=list)
    priority: int = 1
    part: int = 0  # k of a split load (1-based); 0 when the site's order is one stop
    parts: int = 1
    key: str | None = None  # the stop id when set: a re-plan's carried stop, or another visit "<site>~<k>"

    @property
    def stop_id(self) -> str:
        """The stop's id in a plan: the site code, or "<site>~<k>" for the k-th part of a split load
        (or, on a re-plan, for a further visit to a site whose earlier stop is out or confirmed)."""
        if self.key is not None:
            return self.key
        return self.site.code if not self.part else f"{self.site.code}{PART_SEPARATOR}{self.part}"

    def add(self, side: str, litres: Mapping[str, float]) -> None:
        """Add volumes to the deliver or pickup side."""
        target = self.deliver_l if side == "deliver" else self.pickup_l
        for compartment, value in litres.items():
            if value:
                target[compartment] = round(target.get(compartment, 0.0) + value, 3)

    @property
    def empty(self) -> bool:
        """Nothing to drop or collect."""
        return not any(self.deliver_l.values()) and not any(self.pickup_l.values())


def build_day_stops(
    day: date,
    sites: Iterable[SiteInfo],
    shipments: Iterable[Shipment],
    round_overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> list[DayStop]:
    """One stop per site with anything to move: pending shipments plus the rounds due that day."""
    by_code = {s.code: s for s in sites if s.active}
    stops: dict[str, DayStop] = {}
    for site in by_code.values():
        due = rounds_for(site, day, (round_overrides or {}).get(site.code))
        if due["deliver"] or due["pickup"]:
            stop = stops.setdefault(site.code, DayStop(site))
            stop.add("deliver", due["deliver"])
            stop.add("pickup", due["pickup"])
            stop.rounds = sorted({*DEFAULT_ROUNDS.get(site.level, {})})
    for shipment in shipments:
        target = by_code.get(shipment.site_code)
        if target is None or target.is_hub:
            continue
        stop = stops.setdefault(target.code, DayStop(target))
        stop.add("deliver", shipment.deliver_l)
        stop.add("pickup", shipment.pickup_l)
        stop.shipment_ids.append(shipment.id)
        stop.priority = max(stop.priority, shipment.priority_on(day))
    return sorted((s for s in stops.values() if not s.empty), key=lambda s: s.site.code)


def service_minutes(stop: DayStop, fixed_min: float = 8.0, per_100_l_min: float = 2.0) -> int:
    """Minutes at a stop: a fixed part (parking, signing) plus handling proportional to volume."""
    litres = sum(stop.deliver_l.values()) + sum(stop.pickup_l.values())
    return int(round(fixed_min + per_100_l_min * litres / 100))


def shipment_volumes(lines: Iterable[Mapping[str, object]]) -> dict[str, float]:
    """Litres per compartment of shipment lines (each with compartment and volume_l)."""
    out: dict[str, float] = {}
    for line in lines:
        compartment = str(line["compartment"])
        out[compartment] = round(out.get(compartment, 0.0) + float(line["volume_l"]), 3)  # type: ignore[arg-type]
    return out


def split_oversized(
    stop: DayStop,
    largest: Mapping[str, float],
    min_split_l: float = MIN_SPLIT_L,
    vehicles: Sequence[Mapping[str, float]] | None = None,
) -> list[DayStop]:
    """Split a site's order larger than any vehicle's compartment into several stops at that site.

    ``largest`` is the biggest compartment of each kind in the fleet (litres). A compartment whose
    volume exceeds it is cut into ``ceil(volume / largest)`` equal parts in whole millilitres: each
    fits the compartment and is more than half of it, so never under ``min_split_l`` (splitting
    needs a compartment of at least twice that). Everything that fits rides with the first part.
    A compartment no vehicle has, or one under ``2 * min_split_l``, is left whole: the solver then
    names that stop and compartment as the reason it is left out.

    ``vehicles`` (each vehicle's compartments in litres) lets the split check that one vehicle can
    carry each part: the largest compartments of each kind may be on different vehicles (a 600 L
    cold and 6,000 L ambient order for refrigerated vans of 400 L cold / 2,500 L ambient and plain
    vans of 3,500 L ambient). When a part fits no single vehicle, every compartment of at least
    ``2 * min_split_l`` is cut into the fewest equal parts (up to MAX_PARTS) that one vehicle can
    each carry; the rest rides with the first part. Left as it was when no such split exists.
    """
    parts = _split_by_compartment(stop, largest, min_split_l)
    if vehicles is None or all(_carried(p, vehicles) for p in parts):
        return parts
    for n in range(2, MAX_PARTS + 1):
        pieces = _split_evenly(stop, n, min_split_l)
        if all(_carried(p, vehicles) for p in pieces):
            return pieces
    return parts


def _carried(stop: DayStop, vehicles: Sequence[Mapping[str, float]]) -> bool:
    """One of the vehicles holds all of the stop's load at once (deliveries and pickups per compartment)."""
    need = {c: max(stop.deliver_l.get(c, 0.0), stop.pickup_l.get(c, 0.0)) for c in {*stop.deliver_l, *stop.pickup_l}}
    return any(all(v <= float(vehicle.get(c, 0.0)) + 1e-9 for c, v in need.items() if v > 0) for vehicle in vehicles)


def _split_evenly(stop: DayStop, n: int, min_split_l: float) -> list[DayStop]:
    """``n`` parts: each compartment of at least ``2 * min_split_l`` cut into n equal parts in whole
    millilitres (the first total-mod-n parts one more), smaller ones whole with the first part."""
    parts = [
        DayStop(stop.site, {}, {}, list(stop.shipment_ids), list(stop.rounds), stop.priority, part=k, parts=n)
        for k in range(1, n + 1)
    ]
    for side, volumes in (("deliver", stop.deliver_l), ("pickup", stop.pickup_l)):
        for compartment, litres in volumes.items():
            if litres < 2 * min_split_l:
                parts[0].add(side, {compartment: litres})
                continue
            base, extra = divmod(round(litres * VOLUME_SCALE), n)
            for k in range(n):
                parts[k].add(side, {compartment: (base + (1 if k < extra else 0)) / VOLUME_SCALE})
    kept = [p for p in parts if not p.empty]
    for p in kept:
        p.parts = len(kept)
    return kept


def _split_by_compartment(stop: DayStop, largest: Mapping[str, float], min_split_l: float) -> list[DayStop]:
    """The compartment-by-compartment split ``split_oversized`` describes first."""
    counts: dict[tuple[str, str], int] = {}
    for side, volumes in (("deliver", stop.deliver_l), ("pickup", stop.pickup_l)):
        for compartment, litres in volumes.items():
            cap = largest.get(compartment, 0.0)
            if litres > cap >= 2 * min_split_l:
                counts[(side, compartment)] = math.ceil(litres / cap - 1e-9)
    if not counts or max(counts.values()) > MAX_PARTS:
        return [stop]  # nothing to split, or too big to split: the solver names it as left out
    n = max(counts.values())
    parts = [
        DayStop(stop.site, {}, {}, list(stop.shipment_ids), list(stop.rounds), stop.priority, part=k, parts=n)
        for k in range(1, n + 1)
    ]
    for side, volumes in (("deliver", stop.deliver_l), ("pickup", stop.pickup_l)):
        for compartment, litres in volumes.items():
            pieces = counts.get((side, compartment), 1)
            if pieces == 1:
                parts[0].add(side, {compartment: litres})
                continue
            # Equal parts in whole millilitres: the first (total mod pieces) parts get one more.
            base, extra = divmod(round(litres * VOLUME_SCALE), pieces)
            for k in range(pieces):
                parts[k].add(side, {compartment: (base + (1 if k < extra else 0)) / VOLUME_SCALE})
    return [p for p in parts if not p.empty]
