"""Dispatch's typed commands: what a dispatcher (or a driver) asks the service to do.

Frozen dataclasses built by the HTTP schemas' ``post_load`` (schemas import this module, never the
reverse) and taken by the use cases in ``service.py``. Volumes are litres per compartment; times
of day are ``HH:MM`` local; time limits are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class ShipmentItem:
    """One line of a hand-made shipment: what the driver hands over or collects (品名, 数量, 单位)."""

    name: str
    quantity: float
    unit: str = "件"
    item_code: str | None = None


@dataclass(frozen=True)
class AddShipment:
    """A dispatcher's hand-made shipment: an urgent delivery, an extra specimen pickup."""

    site_code: str
    deliver: Mapping[str, float]
    pickup: Mapping[str, float] = field(default_factory=dict)
    priority: int = 2
    deliver_by: date | None = None
    note: str | None = None
    items: tuple[ShipmentItem, ...] = ()


@dataclass(frozen=True)
class CancelShipment:
    """Withdraw a shipment that no published plan carries yet (status pending)."""

    shipment_id: str


@dataclass(frozen=True)
class ShipmentFilter:
    """Which shipments a list shows: a status (or ``all``) and, for county-wide callers, a site."""

    status: str = "pending"
    site_code: str | None = None


@dataclass(frozen=True)
class PlanDay:
    """Plan one day (any date from today: same-day urgent work, or later; None: tomorrow)."""

    day: date | None = None
    time_limit_s: float = 20.0
    workers: int = 2


@dataclass(frozen=True)
class Replan:
    """Re-plan from a solved plan after a change.

    ``locks`` pins stop id -> vehicle id; ``locked_routes`` keeps whole routes in their order;
    ``vehicles_out`` are vehicles already on the road (their routes are kept untouched).
    """

    plan_id: str
    locks: Mapping[str, str] = field(default_factory=dict)
    locked_routes: tuple[str, ...] = ()
    vehicles_out: tuple[str, ...] = ()
    time_limit_s: float = 3.0


@dataclass(frozen=True)
class PublishPlan:
    """Hand a solved plan to the drivers."""

    plan_id: str


@dataclass(frozen=True)
class CompleteStop:
    """A driver's confirmation at a stop (proof of delivery and collection)."""

    plan_id: str
    stop_id: str
    received_by: str | None = None
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpsertVehicle:
    """Add or replace a vehicle of the fleet (compartments in litres, shift and break as HH:MM)."""

    id: str
    name: str
    compartments_l: Mapping[str, float]
    shift_start: str = "07:30"
    shift_end: str = "17:30"
    break_start: str | None = "11:30"
    break_end: str | None = "13:30"
    break_min: int | None = 45
    max_route_min: int | None = 600
    max_km: float | None = 400.0
    fixed_cost: float = 200.0
    cost_per_km: float = 2.5
    active: bool = True
    driver: str | None = None

    def row(self) -> dict[str, object]:
        """The vehicle as a row of the fleet table."""
        return {
            "id": self.id, "name": self.name, "compartments_l": dict(self.compartments_l),
            "shift_start": self.shift_start, "shift_end": self.shift_end, "break_start": self.break_start,
            "break_end": self.break_end, "break_min": self.break_min, "max_route_min": self.max_route_min,
            "max_km": self.max_km, "fixed_cost": self.fixed_cost, "cost_per_km": self.cost_per_km,
            "active": self.active, "driver": self.driver,
        }  # fmt: skip
