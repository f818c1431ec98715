"""A storekeeper's view of a plan's left-out entries (presentation.for_site), with shipment ids that
collide with stop ids (fresh-eyes fault B).

A shipment no stop carries (planning.unplanned) is identified by its ``shipment_id`` and belongs to its
``site``; its ``id`` repeats the shipment id, which is the sender's and may equal a stop's id (a
shipment named ``CW-T02`` to an unknown site). The storekeeper of CW-T02 saw that foreign shipment as
their own, and the storekeeper of an active site saw nothing of their own shipment left out
(``nothing_to_move``). Rule: a shipment entry is kept exactly when its ``site`` is the caller's site;
a stop entry when its id is one of the site's stops.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.presentation import for_site, is_shipment_entry

SITES = ["CW-T01", "CW-T02", "CW-T01-V02", "CW-ZZ98"]  # CW-ZZ98: unknown to dispatch, no stop
STOPS = {
    "CW-T01": "CW-T01",
    "CW-T02": "CW-T02",
    "CW-T02~2": "CW-T02",
    "CW-T01-V02": "CW-T01-V02",
}  # stop -> site
IDS = [*STOPS, "SH-1", "SH-2"]  # shipment ids drawn from the stops' ids too: they collide


def _plan(left_stops: list[str], shipments: list[tuple[str, str, str]]) -> dict[str, Any]:
    refs = {stop: {"site": site, "name": site} for stop, site in STOPS.items()}
    served = [s for s in STOPS if s not in left_stops]
    unassigned: list[dict[str, Any]] = [
        {"id": s, "reason": "no room", "rule": "capacity"} for s in left_stops
    ]
    unassigned += [{"id": sid, "reason": f"{rule} at {site}", "rule": rule, "shipment_id": sid, "site": site}
                   for sid, site, rule in shipments]  # fmt: skip
    return {"id": "P", "date": "2027-01-04", "status": "solved", "stop_refs": refs, "request": {"stops": []},
            "result": {"status": "partial", "routes": [{"vehicle": "LC-1", "stops": [{"id": s} for s in served]}],
                       "unassigned": unassigned, "totals": {"stops_served": len(served)}}}  # fmt: skip


shipment = st.tuples(
    st.sampled_from(IDS),
    st.sampled_from(SITES),
    st.sampled_from(["site_unknown", "nothing_to_move", "site_inactive"]),
)


@settings(max_examples=300, deadline=None)
@given(left=st.lists(st.sampled_from(list(STOPS)), unique=True), shipments=st.lists(shipment, max_size=6),
       site=st.sampled_from(SITES))  # fmt: skip
def test_a_storekeeper_sees_their_own_stops_and_shipments_only(
    left: list[str], shipments: list[tuple[str, str, str]], site: str
) -> None:
    plan = _plan(left, shipments)
    seen = for_site(plan, site)["result"]
    stops_seen = [u["id"] for u in seen["unassigned"] if not is_shipment_entry(u)]
    shipments_seen = [
        (u["shipment_id"], u["site"], u["rule"]) for u in seen["unassigned"] if is_shipment_entry(u)
    ]
    assert stops_seen == [s for s in left if STOPS[s] == site]
    assert shipments_seen == [x for x in shipments if x[1] == site]  # never a foreign one, whatever its id
    assert all(STOPS[s["id"]] == site for r in seen["routes"] for s in r["stops"])


def test_the_fresh_eyes_case() -> None:
    """Shipment ``CW-T02`` to unknown CW-ZZ98; an empty shipment of active CW-T01-V02 (nothing_to_move)."""
    plan = _plan(
        [], [("CW-T02", "CW-ZZ98", "site_unknown"), ("SH-ZERO-VOL", "CW-T01-V02", "nothing_to_move")]
    )
    assert for_site(plan, "CW-T02")["result"]["unassigned"] == []
    own = for_site(plan, "CW-T01-V02")["result"]["unassigned"]
    assert [(u["shipment_id"], u["rule"]) for u in own] == [("SH-ZERO-VOL", "nothing_to_move")]
