"""Dispatch's use cases called directly (no HTTP), on SQLite and on PostgreSQL.

Issue 8's service-level examples: lunch closures as several windows, split loads shown as parts,
a vehicle whose shift lies outside the depot's hours left out while the others plan, any day
planned (today for same-day work) and earlier days read, the manifest's contents, before/after of
a re-plan, the publish preview; issue 9's site scope on shipments and day stops.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.dispatch import reads, service, shipments, worker
from services.dispatch.commands import (
    AddShipment,
    CancelShipment,
    PlanDay,
    PublishPlan,
    Replan,
    ShipmentFilter,
    ShipmentItem,
    UpsertVehicle,
)
from services.dispatch.model import minutes
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.runtime import ServiceContext
from tests.service.dispatch.dispatch_support import DISPATCHER, next_monday

STOREKEEPER_T02 = Principal("sk-t02", ("storekeeper", "pharmacist"), site="CW-T02")


def _solve_all(ctx: ServiceContext) -> None:
    while (plan_id := worker.claim_plan(ctx, "test")) is not None:
        worker.run_plan(ctx, plan_id, "test")


def _plan(ctx: ServiceContext, seconds: float = 3.0) -> dict:
    plan = service.queue_plan(ctx, DISPATCHER, PlanDay(next_monday(), seconds, 1))
    _solve_all(ctx)
    solved = service.get_plan(ctx, plan["id"])
    assert solved["status"] == "solved", solved["error"]
    return solved


def test_shipments_get_cancel_and_site_scope(service_ctx: ServiceContext) -> None:
    mine = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"cold": 2}, {}, 3, note="胰岛素"))
    other = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T03", {"ambient": 5}))
    assert shipments.get_shipment(service_ctx, DISPATCHER, mine["id"])["note"] == "胰岛素"
    assert shipments.get_shipment(service_ctx, STOREKEEPER_T02, mine["id"])["site_code"] == "CW-T02"
    with pytest.raises(Forbidden):
        shipments.get_shipment(service_ctx, STOREKEEPER_T02, other["id"])
    seen = shipments.list_shipments(service_ctx, STOREKEEPER_T02, ShipmentFilter("all"))
    assert [s["id"] for s in seen] == [mine["id"]]  # a storekeeper (whatever else they hold) sees their site only
    with pytest.raises(Forbidden):
        shipments.list_shipments(service_ctx, STOREKEEPER_T02, ShipmentFilter("all", "CW-T03"))
    assert {s["id"] for s in shipments.list_shipments(service_ctx, DISPATCHER, ShipmentFilter("all"))} == {mine["id"], other["id"]}
    cancelled = shipments.cancel_shipment(service_ctx, DISPATCHER, CancelShipment(other["id"]))
    assert cancelled["status"] == "cancelled"
    with pytest.raises(Conflict):
        shipments.cancel_shipment(service_ctx, DISPATCHER, CancelShipment(other["id"]))
    with pytest.raises(NotFound):
        shipments.cancel_shipment(service_ctx, DISPATCHER, CancelShipment("M-nope"))
    with pytest.raises(Forbidden):
        shipments.cancel_shipment(service_ctx, STOREKEEPER_T02, CancelShipment(mine["id"]))
    preview = service.preview_day(service_ctx, STOREKEEPER_T02, next_monday())
    assert {s["id"] for s in preview["stops"]} == {"CW-T02"} and set(preview["stop_refs"]) == {"CW-T02"}


def test_lunch_closures_are_windows_the_plan_keeps(service_ctx: ServiceContext) -> None:
    plan = _plan(service_ctx)
    townships = [s for s in plan["request"]["stops"] if s["id"].startswith("CW-T")]
    assert townships and all(len(s["windows"]) == 2 for s in townships)  # morning and afternoon, closed at noon
    periods = {s["id"]: s["windows"] for s in plan["request"]["stops"]}
    for route in plan["result"]["routes"]:
        for stop in route["stops"]:
            start = minutes(stop["start"])
            assert any(minutes(a) <= start <= minutes(b) for a, b in periods[stop["id"]]), (stop, periods[stop["id"]])


def test_an_order_larger_than_any_compartment_is_split_into_parts(service_ctx: ServiceContext) -> None:
    big = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"cold": 900}, {}, 2, note="疫苗",
                                                                    items=(ShipmentItem("流感疫苗", 3000, "支"),)))  # fmt: skip
    preview = service.preview_day(service_ctx, DISPATCHER, next_monday())
    parts = [s for s in preview["stops"] if s["id"].startswith("CW-T02~")]
    assert [s["id"] for s in parts] == ["CW-T02~1", "CW-T02~2", "CW-T02~3"]
    assert sum(s["deliver"]["cold"] for s in parts) == pytest.approx(900)
    assert all(10 <= s["deliver"]["cold"] <= 400 for s in parts)  # the largest cold compartment holds 400 L
    plan = _plan(service_ctx, 4)
    served = {s["id"]: r["vehicle"] for r in plan["result"]["routes"] for s in r["stops"]}
    assert {"CW-T02~1", "CW-T02~2", "CW-T02~3"} <= set(served)
    sheet = reads.manifest(service_ctx, DISPATCHER, plan["id"], served["CW-T02~2"])
    part = next(s for s in sheet["stops"] if s["stop_id"] == "CW-T02~2")
    assert (part["part"], part["parts"]) == (2, 3) and part["shipments"][0]["id"] == big["id"]


def test_a_vehicle_whose_shift_lies_outside_the_depot_hours_is_left_out_and_the_others_plan(
    service_ctx: ServiceContext,
) -> None:
    service.upsert_vehicle(service_ctx, DISPATCHER, UpsertVehicle("NIGHT", "夜班车", {"ambient": 3000},
                                                                  shift_start="19:30", shift_end="22:00",
                                                                  break_start=None, break_end=None, break_min=None))  # fmt: skip
    plan = _plan(service_ctx)
    assert [lo["vehicle"] for lo in plan["request"]["left_out"]] == ["NIGHT"]
    assert "depot" in plan["request"]["left_out"][0]["reason"]
    assert "NIGHT" not in {r["vehicle"] for r in plan["result"]["routes"]}
    assert plan["result"]["totals"]["stops_served"] > 0


def test_any_day_from_today_can_be_planned_and_earlier_days_read(
    service_ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, time

    from shared.clock import LOCAL_TZ

    today = service.today()
    monkeypatch.setattr(service, "local_now", lambda: datetime.combine(today, time(8, 0), LOCAL_TZ))
    queued = service.queue_plan(service_ctx, DISPATCHER, PlanDay(today, 1, 1))
    assert queued["date"] == today.isoformat()
    with pytest.raises(InvalidInput) as refused:
        service.queue_plan(service_ctx, DISPATCHER, PlanDay(today - timedelta(days=1), 1, 1))
    assert "date" in refused.value.fields
    assert [p["id"] for p in service.list_plans(service_ctx, today)] == [queued["id"]]
    assert service.list_plans(service_ctx, today - timedelta(days=3)) == []


def test_a_plan_for_today_sends_no_van_out_before_now_and_a_closed_hub_is_refused(
    service_ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same-day urgent work: today's plan starts at the present time (rounded up to 5 min), not at 07:30."""
    from datetime import datetime, time

    from shared.clock import LOCAL_TZ

    day = next_monday()
    monkeypatch.setattr(service, "local_now", lambda: datetime.combine(day, time(13, 52), LOCAL_TZ))
    queued = service.queue_plan(service_ctx, DISPATCHER, PlanDay(day, 3, 1))
    assert queued["request"]["depot"]["open"] == "13:55"
    assert all(minutes(v["shift"][1]) > minutes("13:55") for v in queued["request"]["vehicles"])
    _solve_all(service_ctx)
    plan = service.get_plan(service_ctx, queued["id"])
    assert plan["status"] == "solved", plan["error"]
    assert plan["result"]["routes"]
    for route in plan["result"]["routes"]:
        assert minutes(route["start"]) >= minutes("13:55")
        assert all(minutes(s["arrival"]) >= minutes("13:55") for s in route["stops"])
    monkeypatch.setattr(service, "local_now", lambda: datetime.combine(day, time(19, 30), LOCAL_TZ))
    with pytest.raises(InvalidInput) as closed:
        service.queue_plan(service_ctx, DISPATCHER, PlanDay(day, 1, 1))
    assert "date" in closed.value.fields
    tomorrow = service.queue_plan(service_ctx, DISPATCHER, PlanDay(day + timedelta(days=1), 1, 1))
    assert tomorrow["request"]["depot"]["open"] != "19:30"


def test_manifest_carries_priority_notes_items_hours_wait_and_driver(service_ctx: ServiceContext) -> None:
    urgent = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment(
        "CW-T02", {"cold": 6}, {}, 3, note="胰岛素和肾上腺素，到后立即入冷藏",
        items=(ShipmentItem("胰岛素注射液", 40, "支"), ShipmentItem("肾上腺素注射液", 20, "支"))))  # fmt: skip
    plan = _plan(service_ctx)
    vehicle = next(r["vehicle"] for r in plan["result"]["routes"] if any(s["id"] == "CW-T02" for s in r["stops"]))
    sheet = reads.manifest(service_ctx, DISPATCHER, plan["id"], vehicle)
    assert sheet["driver"] and sheet["vehicle_name"]
    stop = next(s for s in sheet["stops"] if s["stop_id"] == "CW-T02")
    assert stop["priority"] == 3 and stop["priority_label"] == "紧急"
    assert stop["notes"] == ["胰岛素和肾上腺素，到后立即入冷藏"]
    shipment = next(s for s in stop["shipments"] if s["id"] == urgent["id"])
    assert [(i["name"], i["quantity"], i["unit"]) for i in shipment["items"]] == [
        ("胰岛素注射液", 40, "支"), ("肾上腺素注射液", 20, "支")]  # fmt: skip
    assert len(stop["receiving_hours"]) == 2 and stop["pickup_l"].get("specimen")
    for s in sheet["stops"]:  # a wait is printed exactly when it is long
        wait = minutes(s["start"]) - minutes(s["arrival"])
        assert s["wait_min"] == (wait if wait >= 20 else None)
    with pytest.raises(NotFound):
        reads.manifest(service_ctx, DISPATCHER, plan["id"], "NO-SUCH-VAN")


def test_manifest_shows_each_stops_site_address_phone_and_receiving_hours(service_ctx: ServiceContext) -> None:
    """The sample county's sites carry 地址 and 联系电话 through the formulary's snapshot to the manifest."""
    from services.formulary.seed.county import generate_county

    county = {s.code: s for s in generate_county().sites}
    plan = _plan(service_ctx)
    route = plan["result"]["routes"][0]
    sheet = reads.manifest(service_ctx, DISPATCHER, plan["id"], route["vehicle"])
    assert sheet["stops"]
    for stop in sheet["stops"]:
        site = county[stop["site_code"]]
        assert stop["address"] == site.address and stop["address"]
        assert stop["phone"] == site.phone and stop["phone"]
        assert [tuple(h) for h in stop["receiving_hours"]] == list(site.receiving_hours)


def test_replan_shows_before_and_after_and_publish_preview_summarises(service_ctx: ServiceContext) -> None:
    first = _plan(service_ctx)
    shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T05", {"cold": 3}, {}, 3))
    some_stop = first["result"]["routes"][0]["stops"][0]["id"]
    other_vehicle = next(v["id"] for v in first["request"]["vehicles"] if v["id"] != first["result"]["routes"][0]["vehicle"]
                         and "cold" in v["compartments"])  # fmt: skip
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {some_stop: other_vehicle}, (), (), 3))
    _solve_all(service_ctx)
    after = service.get_plan(service_ctx, again["id"])
    assert after["status"] == "solved", after["error"]
    where = {s["id"]: r["vehicle"] for r in after["result"]["routes"] for s in r["stops"]}
    assert where[some_stop] == other_vehicle  # the per-stop lock held
    diff = reads.compare_plans(service_ctx, DISPATCHER, after["id"])
    assert diff["before_plan_id"] == first["id"]
    moved = {m["stop_id"]: m for m in diff["moved"]}
    assert moved[some_stop]["after"] == other_vehicle and moved[some_stop]["before"] != other_vehicle
    assert set(diff["delta"]) == {"cost", "distance_km", "vehicles", "stops_served"}
    service.publish_plan(service_ctx, DISPATCHER, PublishPlan(first["id"]))
    preview = reads.publish_preview(service_ctx, DISPATCHER, after["id"])
    assert preview["replaces"] == first["id"] and preview["changes"]["moved"]
    assert preview["stops"] == after["result"]["totals"]["stops_served"]


def test_impossible_locks_are_refused_naming_the_lock(service_ctx: ServiceContext) -> None:
    first = _plan(service_ctx)
    plain = next(v["id"] for v in first["request"]["vehicles"] if "cold" not in v["compartments"])
    shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T05", {"cold": 3}, {}, 3))
    with pytest.raises(InvalidInput) as refused:
        service.replan(service_ctx, DISPATCHER, Replan(first["id"], {"CW-T05": plain}, (), (), 2))
    assert list(refused.value.fields) == ["locks.CW-T05"] and "cold" in refused.value.fields["locks.CW-T05"]
    # in the order's own litres (the core counts millilitres: 3 L, not 3000 L or 0.3 L)
    assert "cannot carry 3 L cold (its compartment holds 0 L)" in refused.value.fields["locks.CW-T05"]


def test_vehicles_make_several_trips_a_day_shown_on_the_plan_and_the_manifest(service_ctx: ServiceContext) -> None:
    plan = _plan(service_ctx, 4)
    routes = plan["result"]["routes"]
    by_vehicle: dict[str, list[dict]] = {}
    for route in routes:
        by_vehicle.setdefault(route["vehicle_id"], []).append(route)
        assert all(s["trip"] == route["trip"] for s in route["stops"])
    twice = [v for v, legs in by_vehicle.items() if len(legs) == 2]
    assert twice, "a county Monday needs a morning and an afternoon round"
    assert plan["result"]["totals"]["vehicles"] == len(by_vehicle) < plan["result"]["totals"]["trips"] == len(routes)
    morning, afternoon = by_vehicle[twice[0]]
    assert (morning["trip"], afternoon["trip"]) == (1, 2) and morning["end"] < afternoon["start"]
    sheet = reads.manifest(service_ctx, DISPATCHER, plan["id"], twice[0])
    assert [t["trip"] for t in sheet["trips"]] == [1, 2]
    # the driver reads when the lunch break and reload at the hub fall: between the two trips
    assert f"{sheet['trips'][0]['end']}–{sheet['trips'][1]['start']}" in sheet["break_note"]
    assert [s["trip"] for s in sheet["stops"]] == sorted(s["trip"] for s in sheet["stops"])
    published = service.publish_plan(service_ctx, DISPATCHER, PublishPlan(plan["id"]))
    one = next(r for r in published["routes"] if r["vehicle_id"] == twice[0])
    assert len(one["stops"]) == len(morning["stops"]) + len(afternoon["stops"])  # drivers get one route per van


def test_locks_and_vehicles_out_may_name_a_van_or_one_of_its_trips(service_ctx: ServiceContext) -> None:
    first = _plan(service_ctx)
    two = next(r["vehicle_id"] for r in first["result"]["routes"] if r["trip"] == 2)
    legs = [r for r in first["result"]["routes"] if r["vehicle_id"] == two]
    stop = legs[1]["stops"][0]["id"]  # on the van's afternoon trip
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {stop: two}, (), (), 2))
    assert again["request"]["locks"][stop] == legs[1]["vehicle"]  # the van's lock keeps the stop's trip
    out = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (two,), 2))
    assert {r["vehicle"] for r in out["request"]["kept_routes"]} == {leg["vehicle"] for leg in legs}
    assert not {v["id"] for v in out["request"]["vehicles"]} & {leg["vehicle"] for leg in legs}
    with pytest.raises(InvalidInput) as refused:
        service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, ("NOPE",), (), 2))
    assert list(refused.value.fields) == ["locked_routes[0]"]


def test_a_lock_on_a_vehicle_already_out_or_of_a_stop_already_out_is_refused_naming_the_lock(
    service_ctx: ServiceContext,
) -> None:
    """Found trying it as a dispatcher: a stop locked to a van marked out gave a 500 (the core refused the lock)."""
    first = _plan(service_ctx)
    routes = first["result"]["routes"]
    van = routes[0]["vehicle_id"]
    other = next(r for r in routes if r["vehicle_id"] != van)["stops"][0]["id"]
    on_van = routes[0]["stops"][0]["id"]
    for lock_to in (van, routes[0]["vehicle"]):  # the van, or one of its trips
        with pytest.raises(InvalidInput) as refused:
            service.replan(service_ctx, DISPATCHER, Replan(first["id"], {other: lock_to}, (), (van,), 2))
        assert list(refused.value.fields) == [f"locks.{other}"]
        assert "out" in refused.value.fields[f"locks.{other}"]
    with pytest.raises(InvalidInput) as gone:
        service.replan(service_ctx, DISPATCHER, Replan(first["id"], {on_van: van}, (), (van,), 2))
    assert list(gone.value.fields) == [f"locks.{on_van}"] and "out" in gone.value.fields[f"locks.{on_van}"]


def test_a_replan_with_a_vehicle_out_counts_its_kept_route_in_the_days_totals(service_ctx: ServiceContext) -> None:
    """The day's totals (and so the before/after comparison) include the routes of vans already out."""
    first = _plan(service_ctx)
    van = first["result"]["routes"][0]["vehicle_id"]
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (van,), 2))
    _solve_all(service_ctx)
    after = service.get_plan(service_ctx, again["id"])
    assert after["status"] == "solved", after["error"]
    routes = after["result"]["routes"]
    totals = after["result"]["totals"]
    assert totals["stops_served"] == sum(len(r["stops"]) for r in routes) == first["result"]["totals"]["stops_served"]
    assert totals["distance_km"] == pytest.approx(sum(r["distance_km"] for r in routes), abs=0.02)
    assert totals["cost"] == pytest.approx(sum(r["cost"] for r in routes), abs=0.05)
    assert totals["vehicles"] == len({r["vehicle_id"] for r in routes}) and totals["trips"] == len(routes)
    assert van in {r["vehicle_id"] for r in routes}
    diff = reads.compare_plans(service_ctx, DISPATCHER, again["id"])
    assert diff["delta"]["stops_served"] == 0


def test_a_shipment_due_by_a_day_that_has_passed_is_refused_naming_deliver_by(service_ctx: ServiceContext) -> None:
    with pytest.raises(InvalidInput) as refused:
        shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"cold": 2}, deliver_by=service.today() - timedelta(days=1)))
    assert list(refused.value.fields) == ["deliver_by"]
    assert shipments.list_shipments(service_ctx, DISPATCHER, ShipmentFilter("all")) == []
    due_today = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"cold": 2}, deliver_by=service.today()))
    assert due_today["deliver_by"] == service.today().isoformat()


def test_publishing_a_plan_that_carries_a_shipment_cancelled_since_is_refused_and_it_stays_cancelled(
    service_ctx: ServiceContext,
) -> None:
    """Found trying it as a dispatcher: publishing flipped a cancelled shipment back to planned (drivers got it)."""
    kept = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"cold": 2}, {}, 3))
    gone = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T03", {"cold": 2}, {}, 3))
    plan = _plan(service_ctx)
    shipments.cancel_shipment(service_ctx, DISPATCHER, CancelShipment(gone["id"]))
    with pytest.raises(Conflict) as refused:
        service.publish_plan(service_ctx, DISPATCHER, PublishPlan(plan["id"]))
    assert gone["id"] in str(refused.value.fields)
    assert shipments.get_shipment(service_ctx, DISPATCHER, gone["id"])["status"] == "cancelled"
    assert service.get_plan(service_ctx, plan["id"])["status"] == "solved"
    again = service.replan(service_ctx, DISPATCHER, Replan(plan["id"], {}, (), (), 2))
    _solve_all(service_ctx)
    service.publish_plan(service_ctx, DISPATCHER, PublishPlan(again["id"]))
    assert shipments.get_shipment(service_ctx, DISPATCHER, gone["id"])["status"] == "cancelled"
    assert shipments.get_shipment(service_ctx, DISPATCHER, kept["id"])["status"] == "planned"


def test_a_storekeeper_who_is_also_a_dispatcher_cancels_only_their_own_sites_shipments(service_ctx: ServiceContext) -> None:
    """Site scope holds whatever other roles a storekeeper's token carries (TEAM rule; issue 9)."""
    both = Principal("sk-disp", ("storekeeper", "dispatcher"), site="CW-T02")
    other = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T03", {"ambient": 5}))
    with pytest.raises(Forbidden):
        shipments.cancel_shipment(service_ctx, both, CancelShipment(other["id"]))
    assert shipments.get_shipment(service_ctx, DISPATCHER, other["id"])["status"] == "pending"
    mine = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"ambient": 5}))
    assert shipments.cancel_shipment(service_ctx, both, CancelShipment(mine["id"]))["status"] == "cancelled"
    with pytest.raises(Forbidden):
        shipments.add_shipment(service_ctx, both, AddShipment("CW-T03", {"ambient": 5}))
