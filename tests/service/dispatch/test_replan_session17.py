"""Session 17 fresh eyes: a re-plan carries what its base plan carried, and nothing twice.

Rules (service.replan, dayplan.replan_stops): every shipment of the base plan that is neither out
nor delivered is planned again (a stop of the re-plan: routed or unassigned with a reason); the
routes of vans out are frozen as they left (nothing added, their rounds not planned again); the
parts of a split load not out are carried, delivered parts are not; a superseded plan is not
re-planned; a plan after a shipment's deliver-by day lists it late; lock errors name fields sent.
The sweep checks the rules on the queued request of a re-plan for every van out (no solve needed:
the solver routes or names every stop of the request).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.dispatch import reads, service, shipments, worker
from services.dispatch.commands import (
    AddShipment,
    CancelShipment,
    CompleteStop,
    PlanDay,
    PublishPlan,
    Replan,
    ShipmentFilter,
)
from shared.errors import Conflict, InvalidInput, NotFound
from shared.runtime import ServiceContext
from tests.service.dispatch.dispatch_support import DISPATCHER, next_monday


def _solve_all(ctx: ServiceContext) -> None:
    while (plan_id := worker.claim_plan(ctx, "test")) is not None:
        worker.run_plan(ctx, plan_id, "test")


def _solved(ctx: ServiceContext, queued: dict[str, Any]) -> dict[str, Any]:
    _solve_all(ctx)
    plan = service.get_plan(ctx, queued["id"])
    assert plan["status"] == "solved", plan["error"]
    return plan


def _published(ctx: ServiceContext, seconds: float = 2.0) -> dict[str, Any]:
    plan = _solved(ctx, service.queue_plan(ctx, DISPATCHER, PlanDay(next_monday(), seconds, 1)))
    service.publish_plan(ctx, DISPATCHER, PublishPlan(plan["id"]))
    return service.get_plan(ctx, plan["id"])


def _on(plan: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: r["vehicle"] for r in plan["result"]["routes"] for s in r["stops"]}


def _check_replan(base: dict[str, Any], again: dict[str, Any], open_ids: set[str], new_ids: frozenset[str] = frozenset()) -> None:
    """The re-plan's rules on its queued request (see the module docstring)."""
    request, refs, base_refs = again["request"], again["stop_refs"], base["stop_refs"]
    kept = {s["id"] for r in request.get("kept_routes") or [] for s in r["stops"]}
    planned = {s["id"] for s in request["stops"]}
    assert not kept & planned, kept & planned
    for stop in kept:  # frozen as they left: same load, same shipments, same rounds
        assert refs[stop] == base_refs[stop], (stop, refs[stop], base_refs[stop])
    carried = {i for s in planned | kept for i in refs[s].get("shipment_ids", [])}
    lost = {i for ref in base_refs.values() for i in ref.get("shipment_ids", []) if i in open_ids} - carried
    assert not lost, f"shipments of the base plan vanished: {lost}"
    assert new_ids <= {i for s in planned for i in refs[s].get("shipment_ids", [])}, "a new order rides on a van out"
    kept_sites = {refs[s]["site"] for s in kept}
    for stop in planned:
        ref = refs[stop]
        if ref["site"] in kept_sites and stop not in base_refs:  # a further visit: new orders only, no rounds
            assert not ref["rounds"] and set(ref["shipment_ids"]) <= new_ids, (stop, ref)
        elif ref["site"] in kept_sites:
            assert {k: v for k, v in ref.items() if k not in ("shipment_ids", "priority", "name")} == \
                {k: v for k, v in base_refs[stop].items() if k not in ("shipment_ids", "priority", "name")}, stop  # fmt: skip


def test_a_replan_of_a_published_plan_carries_its_shipments_and_publishing_moves_them(service_ctx: ServiceContext) -> None:
    day = next_monday()
    urgent = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T05", {"ambient": 30}, {}, 3, day, "急救药"))
    insulin = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T02", {"cold": 4}, {}, 3, day, "胰岛素"))
    first = _published(service_ctx)
    assert urgent["id"] in first["stop_refs"]["CW-T05"]["shipment_ids"]
    van = _on(first)["CW-T02"]
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {"CW-T02": van}, (), (), 1))
    assert urgent["id"] in again["stop_refs"]["CW-T05"]["shipment_ids"]
    assert insulin["id"] in again["stop_refs"]["CW-T02"]["shipment_ids"]  # the locked stop keeps its insulin
    after = _solved(service_ctx, again)
    preview = reads.publish_preview(service_ctx, DISPATCHER, after["id"])
    routed = {i for s in _on(after) for i in after["stop_refs"][s]["shipment_ids"]}
    assert preview["shipments"] == len(routed) >= 1
    service.publish_plan(service_ctx, DISPATCHER, PublishPlan(after["id"]))
    for sid in (urgent["id"], insulin["id"]):
        row = shipments.get_shipment(service_ctx, DISPATCHER, sid)
        expected = ("planned", after["id"]) if sid in routed else ("pending", None)
        assert (row["status"], row["plan_id"]) == expected, row


def test_sweep_every_van_out_keeps_split_parts_freezes_its_route_and_serves_rounds_once(service_ctx: ServiceContext) -> None:
    day = next_monday()
    big = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T03", {"cold": 900}, {}, 2, day, "疫苗大单"))
    shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T05", {"ambient": 30}, {}, 3, day))
    first = _published(service_ctx, 3)
    on = _on(first)
    assert {"CW-T03~1", "CW-T03~2", "CW-T03~3"} <= set(on)
    open_ids = {s["id"] for s in shipments.list_shipments(service_ctx, DISPATCHER, ShipmentFilter("all"))}
    vans = sorted({r["vehicle_id"] for r in first["result"]["routes"]})
    for van in vans:  # each van out in turn, with a new urgent order at the first site it visits
        site = next(first["stop_refs"][s]["site"] for r in first["result"]["routes"] if r["vehicle_id"] == van for s in [r["stops"][0]["id"]])
        new = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment(site, {"ambient": 5}, {}, 3, day, "急"))
        again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (van,), 1))
        _check_replan(first, again, open_ids | {new["id"]}, frozenset({new["id"]}))
        shipments.cancel_shipment(service_ctx, DISPATCHER, CancelShipment(new["id"]))
    out = on["CW-T03~1"].split("~")[0]
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (out,), 1))
    parts = {s["id"] for s in again["request"]["stops"] if s["id"].split("~")[0] == "CW-T03"}
    kept = {s["id"] for r in again["request"]["kept_routes"] for s in r["stops"]}
    assert "CW-T03" not in parts  # the kept part carries the rounds: not planned again
    assert {"CW-T03~1", "CW-T03~2", "CW-T03~3"} <= parts | kept and big["id"] in again["stop_refs"]["CW-T03~3"]["shipment_ids"]


def test_a_confirmed_part_is_not_planned_again_and_the_rest_deliver_the_order(
    service_ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = next_monday()
    big = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T03", {"cold": 900}, {}, 2, day))
    first = _published(service_ctx, 3)
    monkeypatch.setattr(service, "today", lambda: day)  # the drivers confirm on the plan's day
    service.complete_stop(service_ctx, DISPATCHER, CompleteStop(first["id"], "CW-T03~1"))
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (), 2))
    ids = {s["id"] for s in again["request"]["stops"] if s["id"].split("~")[0] == "CW-T03"}
    assert ids == {"CW-T03~2", "CW-T03~3"}, ids  # part 1 is delivered; parts 2 and 3 are not lost
    after = _solved(service_ctx, again)
    service.publish_plan(service_ctx, DISPATCHER, PublishPlan(after["id"]))
    with pytest.raises((Conflict, NotFound)):  # confirmed on the plan it was re-planned from (and off its routes)
        service.complete_stop(service_ctx, DISPATCHER, CompleteStop(after["id"], "CW-T03~1"))
    served = _on(after)
    assert {"CW-T03~2", "CW-T03~3"} <= set(served)
    service.complete_stop(service_ctx, DISPATCHER, CompleteStop(after["id"], "CW-T03~2"))
    assert shipments.get_shipment(service_ctx, DISPATCHER, big["id"])["status"] == "planned"
    service.complete_stop(service_ctx, DISPATCHER, CompleteStop(after["id"], "CW-T03~3"))
    assert shipments.get_shipment(service_ctx, DISPATCHER, big["id"])["status"] == "delivered"


def test_a_new_order_for_a_site_on_a_van_out_gets_its_own_stop_on_a_van_at_the_hub(service_ctx: ServiceContext) -> None:
    day = next_monday()
    first = _published(service_ctx)
    van = _on(first)["CW-T10"]
    rabies = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T10", {"cold": 4}, {}, 3, day, "狂犬疫苗急用"))
    again = service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (van.split("~")[0],), 2))
    assert again["stop_refs"]["CW-T10"] == first["stop_refs"]["CW-T10"]  # the van left with what it had
    visit = [s for s, r in again["stop_refs"].items() if rabies["id"] in r.get("shipment_ids", [])]
    assert visit and visit[0].startswith("CW-T10~") and again["stop_refs"][visit[0]]["rounds"] == []
    after = _solved(service_ctx, again)
    kept = {r["vehicle"] for r in after["request"]["kept_routes"]}
    where = _on(after).get(visit[0])
    if where is None:
        assert visit[0] in {u["id"] for u in after["result"]["unassigned"]}
    else:
        assert where not in kept and "cold" in next(v for v in after["request"]["vehicles"] if v["id"] == where)["compartments"]


def test_a_superseded_plan_is_not_replanned_nor_a_plan_that_drops_vans_out_published(service_ctx: ServiceContext) -> None:
    first = _published(service_ctx)
    vans = sorted({r["vehicle_id"] for r in first["result"]["routes"]})
    stale = _solved(service_ctx, service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (), 1)))
    out = _solved(service_ctx, service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), tuple(vans[:2]), 1)))
    service.publish_plan(service_ctx, DISPATCHER, PublishPlan(out["id"]))
    with pytest.raises(Conflict) as refused:
        service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (), 1))
    assert out["id"] in refused.value.fields["plan_id"]
    with pytest.raises(Conflict) as off_line:  # a sibling re-plan, not from the plan the drivers have
        service.replan(service_ctx, DISPATCHER, Replan(stale["id"], {}, (), (), 1))
    assert out["id"] in off_line.value.fields["plan_id"]
    fresh = _solved(service_ctx, service.queue_plan(service_ctx, DISPATCHER, PlanDay(next_monday(), 1, 1)))
    with pytest.raises(Conflict) as dropped:  # a fresh plan would take vans on the road off the board
        service.publish_plan(service_ctx, DISPATCHER, PublishPlan(fresh["id"]))
    assert out["id"] in dropped.value.fields["plan_id"]
    again = service.replan(service_ctx, DISPATCHER, Replan(out["id"], {}, (), (), 1))
    assert {r["vehicle"] for r in again["request"]["kept_routes"]} == {r["vehicle"] for r in out["request"]["kept_routes"]}


def test_late_shipments_are_listed_and_plan_days_have_a_range(service_ctx: ServiceContext) -> None:
    due = next_monday()
    late = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T12", {"ambient": 12}, {}, 3, due, "急救药品"))
    queued = service.queue_plan(service_ctx, DISPATCHER, PlanDay(due + timedelta(days=3), 1, 1))
    assert [(x["shipment_id"], x["deliver_by"]) for x in queued["request"]["late_shipments"]] == [(late["id"], due.isoformat())]
    assert service.preview_day(service_ctx, DISPATCHER, due + timedelta(days=3))["late_shipments"][0]["shipment_id"] == late["id"]
    assert service.preview_day(service_ctx, DISPATCHER, due)["late_shipments"] == []
    plan = _solved(service_ctx, queued)
    preview = reads.publish_preview(service_ctx, DISPATCHER, plan["id"])
    if late["id"] in {i for s in _on(plan) for i in plan["stop_refs"][s]["shipment_ids"]}:
        assert preview["late_shipments"] == [{"shipment_id": late["id"], "deliver_by": due.isoformat(), "site": "CW-T12"}]
    for far in (service.today() + timedelta(days=400), service.today().replace(year=9999, month=12, day=31)):
        with pytest.raises(InvalidInput) as refused:
            service.queue_plan(service_ctx, DISPATCHER, PlanDay(far, 1, 1))
        assert list(refused.value.fields) == ["date"]
        with pytest.raises(InvalidInput) as dry:
            service.preview_day(service_ctx, DISPATCHER, far)
        assert list(dry.value.fields) == ["day"]
        with pytest.raises(InvalidInput) as due_far:
            shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T12", {"ambient": 1}, {}, 1, far))
        assert list(due_far.value.fields) == ["deliver_by"]
    assert service.queue_plan(service_ctx, DISPATCHER, PlanDay(service.today() + timedelta(days=31), 1, 1))["status"] == "queued"


def test_lock_errors_name_only_fields_sent_and_vans_as_sent(service_ctx: ServiceContext) -> None:
    """Locking only a plain van's route, then a cold order for a site on it: the 422 names
    locked_routes[0] (never locks.<site>, not sent) and the van as sent (never its trip id)."""
    day = next_monday()
    first = _published(service_ctx)
    route = next(r for r in first["result"]["routes"] if r["vehicle_id"].startswith("PT-") and r["stops"])
    van, stop = route["vehicle_id"], route["stops"][0]["id"]
    shipments.add_shipment(service_ctx, DISPATCHER, AddShipment(first["stop_refs"][stop]["site"], {"cold": 4}, {}, 3, day))
    for sent in (van, route["vehicle"]):  # the van, or the trip itself
        with pytest.raises(InvalidInput) as refused:
            service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (sent,), (), 1))
        assert list(refused.value.fields) == ["locked_routes[0]"], refused.value.fields
        reason = refused.value.fields["locked_routes[0]"]
        assert sent in reason and "cold" in reason
        if sent == van and route["vehicle"] != van:
            assert f"{van}~" not in reason and f"{van} 第{route['trip']}趟" in reason
    other = next(v for v in first["request"]["vehicles"] if "cold" in v["compartments"])["id"]
    with pytest.raises(InvalidInput) as pinned:  # a lock the dispatcher sent is named as sent
        service.replan(service_ctx, DISPATCHER, Replan(first["id"], {stop: other.split("~")[0]}, (van,), (), 1))
    assert list(pinned.value.fields) == [f"locks.{stop}"] and f"{van}'s locked route (locked_routes[0])" in pinned.value.fields[f"locks.{stop}"]
    with pytest.raises(InvalidInput) as gone:  # a stop on a van sent as out: the van as sent, never its trip id
        service.replan(service_ctx, DISPATCHER, Replan(first["id"], {stop: other.split("~")[0]}, (), (van,), 1))
    assert list(gone.value.fields) == [f"locks.{stop}"] and f"{van}~" not in gone.value.fields[f"locks.{stop}"]
    assert van in gone.value.fields[f"locks.{stop}"]


def test_a_replan_with_a_van_out_whose_stop_was_confirmed_can_be_published(
    service_ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop the driver confirmed on the road stays on the kept route: what it delivered is no
    'closed shipment' that refuses publishing, and it cannot be confirmed twice."""
    day = next_monday()
    urgent = shipments.add_shipment(service_ctx, DISPATCHER, AddShipment("CW-T05", {"ambient": 30}, {}, 3, day))
    first = _published(service_ctx)
    van = _on(first)["CW-T05"]
    monkeypatch.setattr(service, "today", lambda: day)
    service.complete_stop(service_ctx, DISPATCHER, CompleteStop(first["id"], "CW-T05"))
    assert shipments.get_shipment(service_ctx, DISPATCHER, urgent["id"])["status"] == "delivered"
    after = _solved(service_ctx, service.replan(service_ctx, DISPATCHER, Replan(first["id"], {}, (), (van,), 1)))
    assert reads.publish_preview(service_ctx, DISPATCHER, after["id"])["closed_shipments"] == []
    service.publish_plan(service_ctx, DISPATCHER, PublishPlan(after["id"]))
    assert shipments.get_shipment(service_ctx, DISPATCHER, urgent["id"])["status"] == "delivered"
    with pytest.raises(Conflict):
        service.complete_stop(service_ctx, DISPATCHER, CompleteStop(after["id"], "CW-T05"))
