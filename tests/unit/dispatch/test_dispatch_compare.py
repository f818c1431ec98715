"""The before/after of a re-plan (presentation.compare) counts vans, not trips."""

from __future__ import annotations

from typing import Any

from services.dispatch.presentation import compare


def _plan(pid: int, routes: dict[str, list[str]], cost: float) -> dict[str, Any]:
    return {"id": pid, "stop_refs": {s: {"name": s} for stops in routes.values() for s in stops},
            "result": {"routes": [{"vehicle": v, "stops": [{"id": s} for s in stops]} for v, stops in routes.items()],
                       "totals": {"cost": cost, "distance_km": 10, "vehicles": 1, "stops_served": 3}}}  # fmt: skip


def test_a_van_gaining_its_afternoon_trip_is_no_vehicle_added_but_its_stop_moved() -> None:
    before = _plan(1, {"LC-1~1": ["a", "b", "c"]}, 300.0)
    after = _plan(2, {"LC-1~1": ["a", "b"], "LC-1~2": ["c"]}, 320.0)
    diff = compare(before, after)
    assert diff["vehicles_added"] == [] and diff["vehicles_removed"] == []
    assert diff["before"]["vehicle_ids"] == diff["after"]["vehicle_ids"] == ["LC-1"]
    assert diff["moved"] == [{"stop_id": "c", "name": "c", "before": "LC-1~1", "after": "LC-1~2"}]
    assert diff["delta"]["cost"] == 20.0


def test_a_van_swapped_for_another_is_named_on_both_sides() -> None:
    before = _plan(1, {"LC-1~1": ["a"], "LC-1~2": ["b"]}, 300.0)
    after = _plan(2, {"LC-2": ["a", "b"]}, 280.0)
    diff = compare(before, after)
    assert diff["vehicles_added"] == ["LC-2"] and diff["vehicles_removed"] == ["LC-1"]
