"""Dispatch's pure day building: rounds by frequency, one stop per site, volumes per compartment."""

from __future__ import annotations

from datetime import date, timedelta

from services.dispatch.model import (
    Shipment,
    SiteInfo,
    build_day_stops,
    round_due,
    rounds_for,
    service_minutes,
    visit_weekday,
)

HUB = SiteInfo("H", "县医院", "county_hospital", 34.95, 115.89, (("07:30", "18:00"),), is_hub=True)
TOWN = SiteInfo("T1", "某镇卫生院", "township", 35.0, 115.8, (("08:00", "17:30"),))
VILLAGE = SiteInfo("T1-V1", "某村卫生室", "village", 35.01, 115.81, (("08:00", "11:30"),))


def test_weekly_rounds_fall_once_a_week_on_a_stable_weekday() -> None:
    monday = date(2026, 11, 23)
    days = [monday + timedelta(days=i) for i in range(7)]
    weekly = [d for d in days if round_due("weekly", VILLAGE.code, d)]
    assert len(weekly) == 1 and weekly[0].weekday() == visit_weekday(VILLAGE.code)
    assert len([d for d in days if round_due("twice_weekly", VILLAGE.code, d)]) == 2
    assert len([d for d in days if round_due("daily", TOWN.code, d)]) == 6  # no Sunday rounds
    assert not any(round_due("none", TOWN.code, d) for d in days)


def test_hub_gets_no_rounds_and_clean_soiled_go_opposite_ways() -> None:
    monday = date(2026, 11, 23)
    assert rounds_for(HUB, monday) == {"deliver": {}, "pickup": {}}
    town = rounds_for(TOWN, monday)
    assert set(town["deliver"]) == {"clean"} and set(town["pickup"]) == {"soiled", "specimen"}


def test_one_stop_per_site_merging_shipments_and_rounds() -> None:
    sunday = date(2026, 11, 29)  # no rounds: only shipments matter
    shipments = [
        Shipment("S1", "T1", {"ambient": 30, "cold": 2}, priority=1),
        Shipment("S2", "T1", {"ambient": 10}, {"specimen": 1}, priority=3),
        Shipment("S3", "H", {"ambient": 5}),  # the hub itself is never a stop
        Shipment("S4", "GONE", {"ambient": 5}),
    ]
    stops = build_day_stops(sunday, [HUB, TOWN, VILLAGE], shipments)
    assert [s.site.code for s in stops] == ["T1"]
    stop = stops[0]
    assert stop.deliver_l == {"ambient": 40, "cold": 2} and stop.pickup_l == {"specimen": 1}
    assert stop.shipment_ids == ["S1", "S2"] and stop.priority == 3
    assert service_minutes(stop) == 9  # 8 fixed + 2 per 100 L of 43 L, rounded
