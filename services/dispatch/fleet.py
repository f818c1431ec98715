"""The county logistics centre's vehicles, and the default fleet a new hub starts with."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.dispatch import store

# Four refrigerated vans (cold chain 2–8 °C) and three plain vans: what a county logistics
# centre of Chengwu's size runs. Plain vans still carry a sealed specimen box.
DEFAULT_FLEET: list[dict[str, Any]] = [
    *(
        {"id": f"LC-{i}", "name": f"冷藏车{i}号", "compartments_l": {"ambient": 2500, "cold": 400, "clean": 1500,
         "soiled": 1500, "specimen": 60}, "fixed_cost": 260.0, "cost_per_km": 2.8, "driver": driver}
        for i, driver in enumerate(("王师傅", "李师傅", "张师傅", "刘师傅"), start=1)
    ),
    *(
        {"id": f"PT-{i}", "name": f"厢式货车{i}号", "compartments_l": {"ambient": 3500, "clean": 2000,
         "soiled": 2000, "specimen": 40}, "fixed_cost": 180.0, "cost_per_km": 2.2, "driver": driver}
        for i, driver in enumerate(("陈师傅", "杨师傅", "赵师傅"), start=1)
    ),
]  # fmt: skip
DEFAULT_SHIFT = {"shift_start": "07:30", "shift_end": "17:30", "break_start": "11:30", "break_end": "13:30",
                 "break_min": 45, "max_route_min": 600, "max_km": 400.0, "active": True}  # fmt: skip


STOPS_PER_VAN = 18  # a van's day: a morning and an afternoon trip of about nine stops each


def fleet_size(daily_stops: int) -> int:
    """Vans a county needs for about this many stops a day: the default seven, more for a city."""
    return max(len(DEFAULT_FLEET), -(-daily_stops // STOPS_PER_VAN))


def default_fleet(size: int = len(DEFAULT_FLEET)) -> list[dict[str, Any]]:
    """The default fleet, repeated in the same 4 refrigerated : 3 plain mix up to ``size`` vans."""
    out = []
    for k in range(size):
        base = DEFAULT_FLEET[k % len(DEFAULT_FLEET)]
        n = k // len(DEFAULT_FLEET)
        extra = {} if n == 0 else {"id": f"{base['id']}-{n + 1}", "name": f"{base['name']}（{n + 1}队）"}
        out.append({**DEFAULT_SHIFT, **base, **extra})
    return out


def seed_fleet_if_empty(session: Session, size: int = len(DEFAULT_FLEET)) -> int:
    """Add the default fleet (``size`` vans) to an empty vehicles table; returns how many were added."""
    if store.vehicle_count(session):
        return 0
    store.add_vehicles(session, default_fleet(size))
    return size


def vehicle_request(row: Any) -> dict[str, Any]:
    """A vehicle row as the solve problem's vehicle (VehicleIn's loaded form)."""
    rest = None
    if row.break_start and row.break_end and row.break_min:
        rest = {"window": [row.break_start, row.break_end], "minutes": row.break_min}
    return {
        "id": row.id,
        "compartments": dict(row.compartments_l),
        "shift": [row.shift_start, row.shift_end],
        "break_": rest,
        "fixed_cost": row.fixed_cost,
        "cost_per_km": row.cost_per_km,
        "max_route_min": row.max_route_min,
        "max_km": row.max_km,
    }
