"""dayplan.replan_stops as a property: whatever stops are out or confirmed and whatever orders arrive,
a re-plan carries every open shipment of its base plan once, leaves the gone stops as they were,
gives a new order for a site with a gone stop a visit of its own, and never serves rounds twice."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.dayplan import ReplanBasis, day_options, day_request
from services.dispatch.model import Shipment, SiteInfo

MONDAY = date(2027, 1, 4)  # every round is due on a Monday
HOURS = (("08:00", "11:30"), ("14:00", "17:00"))
SITES = [SiteInfo("HUB", "中心", "county_hospital", 34.95, 115.9, (("06:00", "20:00"),), is_hub=True)] + [
    SiteInfo(f"T0{i}", f"{i}号卫生院", "township", 34.95 + i / 50, 115.9 + i / 60, HOURS) for i in range(1, 5)]  # fmt: skip
VANS = [{"id": v, "compartments": {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 50},
         "shift": ["07:30", "17:30"], "break_": {"window": ["11:30", "13:30"], "minutes": 45}, "fixed_cost": 200,
         "cost_per_km": 2.5, "max_route_min": 600, "max_km": 400} for v in ("LC-1", "LC-2")]  # fmt: skip
LARGEST = {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 50}


def _request(shipments: list[Shipment], basis: ReplanBasis | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    return day_request(MONDAY, SITES, shipments, VANS, day_options({}), LARGEST, basis=basis)


orders = st.lists(st.tuples(st.sampled_from(["T01", "T02", "T03", "T04"]), st.sampled_from([4.0, 30.0, 650.0, 900.0])),
                  min_size=1, max_size=5)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(before=orders, after=orders, gone_mask=st.lists(st.booleans(), min_size=20, max_size=20))
def test_a_replan_carries_every_open_shipment_once_and_freezes_what_is_gone(
    before: list[tuple[str, float]], after: list[tuple[str, float]], gone_mask: list[bool]
) -> None:
    base_shipments = [Shipment(f"B{i}", site, {"cold": litres}, {}, 2) for i, (site, litres) in enumerate(before)]
    base_request, base_refs = _request(base_shipments)
    stops = sorted(s["id"] for s in base_request["stops"])
    gone = frozenset(s for s, g in zip(stops, gone_mask, strict=False) if g)
    new = [Shipment(f"N{i}", site, {"ambient": litres}, {}, 3) for i, (site, litres) in enumerate(after)]
    request, refs = _request(base_shipments + new, ReplanBasis(base_refs, gone))
    planned = [s["id"] for s in request["stops"]]
    assert len(planned) == len(set(planned)) and not gone & set(planned)
    for stop in gone:
        assert refs[stop] == base_refs[stop]
    everywhere = {i for s in [*planned, *gone] for i in refs[s]["shipment_ids"]}
    assert {s.id for s in base_shipments + new} <= everywhere
    pinned = {base_refs[s]["site"] for s in gone}
    for stop in planned:
        ref = refs[stop]
        if ref["site"] in pinned and stop not in base_refs:  # a further visit: only new orders, no rounds
            assert ref["rounds"] == [] and all(i.startswith("N") for i in ref["shipment_ids"]), (stop, ref)
        if ref["site"] in pinned and stop in base_refs:  # carried as it was
            assert (ref["deliver_l"], ref["pickup_l"], ref["part"]) == (base_refs[stop]["deliver_l"],
                                                                        base_refs[stop]["pickup_l"], base_refs[stop]["part"])
    for site in pinned:  # the rounds' collections ride once: on the stops of the base plan only
        soiled = sum(refs[s]["pickup_l"].get("soiled", 0) for s in [*planned, *gone] if refs[s]["site"] == site)
        assert soiled == sum(base_refs[s]["pickup_l"].get("soiled", 0) for s in base_refs if base_refs[s].get("site") == site)


def test_a_shipment_no_stop_can_carry_is_listed_with_its_reason_never_dropped_silently() -> None:
    closed = SiteInfo("T09", "九号卫生院（停用）", "township", 35.1, 116.0, HOURS, active=False)
    ship = [Shipment("B0", "T09", {"ambient": 10}, {}, 2), Shipment("B1", "T01", {"ambient": 10}, {}, 2)]
    request, _ = day_request(MONDAY, [*SITES, closed], ship, VANS, day_options({}), LARGEST)
    assert [(x["shipment_id"], x["site"]) for x in request["unplanned_shipments"]] == [("B0", "T09")]
    assert "T09" in request["unplanned_shipments"][0]["reason"]
