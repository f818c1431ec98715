"""Insertion by ejection (routing/ejection.py), the route-elimination move that lets a stop left out
take the place of one left out less often.

Property: whatever the day, when the move is made, exactly u comes in and exactly w goes out, w was
left out less often than u, w sat outside any locked prefix in a vehicle allowed to serve u, and
every route still passes the search's own checks and gets a schedule from timing.schedule (the rules
plans are checked by). When no move is made, nothing changes.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing_big_days import _county_like  # same folder (pytest puts it on sys.path)

from services.dispatch.routing.ejection import insert_by_ejection
from services.dispatch.routing.insertion import insert_all, route_feasible
from services.dispatch.routing.instance import Instance
from services.dispatch.routing.model import BuildSettings, RoutingBuild
from services.dispatch.routing.screen import screen
from services.dispatch.routing.timing import Failure, schedule


def _instance(seed: int) -> tuple[Instance, RoutingBuild]:
    problem = _county_like(45, seed=seed)
    build = RoutingBuild(problem, screen(problem),
                         BuildSettings(vehicles=tuple(range(len(problem.vehicles))), model_breaks=False), lazy=True)
    return Instance.from_build(build), build


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 7), fleet=st.integers(1, 4), salt=st.integers(0, 10_000))
def test_an_ejection_swaps_exactly_one_easier_stop_for_a_harder_one_and_keeps_every_rule(
        seed: int, fleet: int, salt: int) -> None:
    inst, build = _instance(seed)
    rng = random.Random(salt)
    routes: list[list[int]] = [[] for _ in range(inst.nv)]
    disabled = frozenset(range(fleet, inst.nv))  # few vehicles: stops are left out
    left = insert_all(inst, routes, rng.sample(range(1, inst.n), inst.n - 1), rng, disabled=disabled, blink=0.0)
    if not left:
        return
    absences = [rng.randrange(5) for _ in range(inst.n)]
    u = max(left, key=lambda x: absences[x])
    before = [list(r) for r in routes]
    w = insert_by_ejection(inst, routes, u, absences, disabled, neighbours=30)
    if w is None:
        assert routes == before
        return
    served_before = {x for r in before for x in r}
    served_after = {x for r in routes for x in r}
    assert served_after == (served_before - {w}) | {u}
    assert absences[w] < absences[u]
    changed = [v for v in range(inst.nv) if routes[v] != before[v]]
    assert len(changed) == 1 and changed[0] not in disabled
    allowed = inst.allowed[u]
    assert allowed is None or changed[0] in allowed
    for v, route in enumerate(routes):
        if not route:
            continue
        assert route_feasible(inst, v, route), (v, route)
        timed = schedule(build.problem, build.problem.vehicles[build.vehicles[v]], [build.nodes[x] for x in route])
        assert not isinstance(timed, Failure), (v, route, timed)


def test_a_stop_no_route_has_room_for_gets_in_by_ejecting_a_neighbour() -> None:
    # one vehicle, filled as far as it goes; some stop is out. Where the move exists the hardest
    # stop gets in; across the seeds it does exist (the move is not dead code)
    made = 0
    for seed in range(8):
        inst, _ = _instance(seed)
        rng = random.Random(seed)
        routes: list[list[int]] = [[] for _ in range(inst.nv)]
        disabled = frozenset(range(1, inst.nv))
        left = insert_all(inst, routes, list(range(1, inst.n)), rng, disabled=disabled, blink=0.0)
        absences = [0] * inst.n
        for u in left:
            absences[u] = 9
        u = left[0]
        if insert_by_ejection(inst, routes, u, absences, disabled, neighbours=inst.n) is not None:
            made += 1
            assert u in routes[0]
    assert made >= 4
