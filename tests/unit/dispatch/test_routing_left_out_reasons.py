"""The reason step for stops left out (routing/left_out.py) on days with many of them.

Fresh eyes (2026-12-06): the step shared one allowance of at most 2 s across all stops left out,
and once it ran out every later stop was reported as a short search ("a longer time limit would
serve it", ``time_limit``): on a 300-stop day with a 40 km limit, 151 of 156 stops that fit no route
were. And a proven shortage of cold room was given as the reason for an ambient-only stop.

Rules proved here:
* ``time_limit`` exactly when the stop fits the final plan (each answer checked against every
  insertion tried with the independent checker), on a day with many stops left out;
* past the allowance a stop still gets evidence: the rule that keeps it off the route(s) nearest
  it, saying how many routes were not tried -- never ``time_limit`` without a fit;
* a capacity shortage is a reason only for stops that use that compartment;
* the step ends: past a hard deadline no route is tried and the stop is ``not_checked``; a first
  plan or last insertion past its deadline leaves the stops not yet tried out.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from test_routing_session17_reasons import _day, _fits_plan  # same folder (pytest puts it on sys.path)

from services.dispatch.routing import Problem, Stop, Vehicle, solve
from services.dispatch.routing.insertion import insert_all
from services.dispatch.routing.instance import Instance
from services.dispatch.routing.left_out import _reason, reason_seconds
from services.dispatch.routing.model import BuildSettings, RoutingBuild
from services.dispatch.routing.prepare import prepare
from services.dispatch.routing.screen import Screening, screen
from services.dispatch.routing.shortage import Binding, OutOfBudget, binding_rule, proven_shortage
from services.dispatch.routing.timing import (
    RULE_MAX_DISTANCE,
    RULE_NOT_CHECKED,
    RULE_SHORTAGE,
    RULE_TIME_LIMIT,
    Failure,
)

H, M = 3600, 60


def _far_stops() -> tuple[Problem, Screening, dict[int, tuple[int, ...]]]:
    """Three vans each out to one far stop, and s3 between two of them that fits no route (65 km limit):
    its nearest route is v2's."""
    pts = [(30000.0, 0.0), (-30000.0, 0.0), (0.0, 30000.0), (12000.0, 20000.0)]
    stops = [Stop(f"s{k}", deliver={"ambient": 1}, service=3 * M) for k in range(4)]
    fleet = [Vehicle(f"v{i}", {"ambient": 100}, shift_start=7 * H, shift_end=19 * H, max_distance=65000)
             for i in range(3)]
    problem = prepare(_day(pts, stops, fleet, limit=1.0)).problem
    return problem, screen(problem), {0: (1,), 1: (2,), 2: (3,)}


def test_a_day_with_many_stops_left_out_calls_none_a_short_search_unless_it_fits() -> None:
    rng = np.random.default_rng(1)
    n = 220
    pts = [(float(rng.uniform(-15000, 15000)), float(rng.uniform(-15000, 15000))) for _ in range(n)]
    stops = [Stop(f"s{k}", deliver={"ambient": 1}, service=3 * M) for k in range(n)]
    fleet = [Vehicle(f"v{i}", {"ambient": 10000}, shift_start=7 * H, shift_end=19 * H, max_distance=40000)
             for i in range(6)]
    problem = _day(pts, stops, fleet, limit=1.0)
    solution = solve(problem)
    assert len(solution.unassigned) > 60  # many left out: more than one fixed 2 s allowance could try
    work = prepare(problem).problem
    routes = {r.vehicle_id: list(r.stop_ids) for r in solution.routes}
    wrong = [(u.stop_id, u.rule) for u in solution.unassigned
             if (u.rule == RULE_TIME_LIMIT) != _fits_plan(work, u.stop_id, routes)]
    assert not wrong, wrong
    assert {u.rule for u in solution.unassigned} <= {RULE_MAX_DISTANCE, RULE_SHORTAGE, RULE_TIME_LIMIT}


def test_past_the_allowance_a_stop_has_its_nearest_route_tried_and_says_how_many_were_not() -> None:
    problem, scr, plan = _far_stops()
    found = binding_rule(problem, scr.allowed[3], plan, 4, deadline=0.0)  # the allowance long gone
    assert isinstance(found, Binding)
    assert (found.tried, found.routes, found.vehicle_id, found.failure.rule) == (1, 3, "v2", RULE_MAX_DISTANCE)
    reason = _reason(problem, scr, 3, found, None, deadline=0.0)
    assert reason.rule == RULE_MAX_DISTANCE
    assert "keeps it off the 1 route nearest it (v2:" in reason.reason
    assert "2 farther routes were not tried" in reason.reason
    whole = binding_rule(problem, scr.allowed[3], plan, 4, deadline=float("inf"))
    assert isinstance(whole, Binding) and whole.complete and whole.tried == 3


def test_a_complete_binding_is_named_for_every_route() -> None:
    binding = Binding("v1", Failure(RULE_MAX_DISTANCE, "the route would be 70 km, maximum 65 km"), 3, 3)
    problem = prepare(_day([(1.0, 1.0)], [Stop("a", deliver={"ambient": 1})],
                           [Vehicle("v1", {"ambient": 10})], limit=1.0)).problem
    reason = _reason(problem, screen(problem), 0, binding, None, deadline=0.0)
    assert reason.rule == RULE_MAX_DISTANCE and "keeps it off every route" in reason.reason


def test_the_allowance_grows_with_the_stops_left_out_within_a_quarter_of_the_time_limit() -> None:
    assert reason_seconds(2.0, 0) == 0.3
    assert reason_seconds(20.0, 100) == 2.0 + 0.5
    assert reason_seconds(20.0, 10_000) == 2.0 + 5.0


def test_a_shortage_of_cold_room_is_no_reason_for_an_ambient_only_stop() -> None:
    stops = [Stop(f"C{i}", deliver={"cold": 6}, service=5 * M, priority=3) for i in range(3)]
    stops += [Stop("X", deliver={"ambient": 5}, service=20 * M), Stop("Y", deliver={"ambient": 5}, service=20 * M)]
    pts = [(0.0, 5000.0), (0.0, -5000.0), (0.0, 6000.0), (63000.0, 0.0), (-63000.0, 0.0)]
    fleet = [Vehicle("coldvan", {"cold": 10, "ambient": 100}, shift_start=7 * H, shift_end=11 * H),
             Vehicle("van", {"ambient": 100}, shift_start=7 * H, shift_end=11 * H)]
    problem = _day(pts, stops, fleet, limit=1.0)
    work = prepare(problem).problem
    assert proven_shortage(work, range(5), 0) is not None  # the cold room is short for the day
    assert proven_shortage(work, range(5), 0, ["ambient"]) is None  # but not the ambient room
    solution = solve(problem)
    for u in solution.unassigned:
        if u.stop_id in ("X", "Y"):
            assert "cold compartment" not in u.reason, u
        else:
            assert u.rule == RULE_SHORTAGE and "cold compartment" in u.reason, u


def test_past_the_hard_deadline_no_route_is_tried_and_the_stop_is_not_checked_never_time_limit() -> None:
    """Fresh eyes (round 2): with an owed break each try of a long route tries every break gap, and
    trying even the nearest route of every stop took 221 s past a 5 s limit on a 600-stop day; the
    nearest-route guarantee now ends at a hard deadline and such a stop is ``not_checked``."""
    problem, scr, plan = _far_stops()
    with pytest.raises(OutOfBudget):
        binding_rule(problem, scr.allowed[3], plan, 4, deadline=0.0, hard_deadline=0.0)
    reason = _reason(problem, scr, 3, OutOfBudget(), None, deadline=0.0)
    assert reason.rule == RULE_NOT_CHECKED and "no time to check why" in reason.reason


def test_a_proof_of_shortage_is_no_stop_s_reason_while_routes_it_may_fit_were_not_tried() -> None:
    """Fresh eyes (round 2): a stop that fits a farther route was given the fleet's proven shortage
    once the allowance ran out; it now says which routes were tried."""
    problem = prepare(_day([(1.0, 1.0)], [Stop("a", deliver={"ambient": 1})],
                           [Vehicle("v1", {"ambient": 10}), Vehicle("v2", {"ambient": 10})], limit=1.0)).problem
    partial = Binding("v1", Failure(RULE_MAX_DISTANCE, "the route would be 70 km, maximum 65 km"), 1, 2)
    proof = "not enough vehicles: service and the shortest drives ... exceed the vehicles' working time"
    reason = _reason(problem, screen(problem), 0, partial, proof, deadline=0.0)
    assert reason.rule == RULE_MAX_DISTANCE and "1 farther route was not tried" in reason.reason
    complete = Binding("v1", Failure(RULE_MAX_DISTANCE, "the route would be 70 km, maximum 65 km"), 2, 2)
    assert _reason(problem, screen(problem), 0, complete, proof, deadline=0.0).rule == RULE_SHORTAGE


def test_an_insertion_past_its_deadline_leaves_the_stops_not_yet_tried_out_as_they_are() -> None:
    problem = _day([(1000.0 * k, 0.0) for k in range(1, 6)], [Stop(f"s{k}", deliver={"ambient": 1}) for k in range(5)],
                   [Vehicle("v1", {"ambient": 10})], limit=1.0)
    build = RoutingBuild(problem, screen(problem), BuildSettings(vehicles=(0,), model_breaks=False), lazy=True)
    inst = Instance.from_build(build)
    routes: list[list[int]] = [[] for _ in range(inst.nv)]
    pool = list(range(1, inst.n))
    assert insert_all(inst, routes, pool, random.Random(0), blink=0.0, deadline=0.0) == pool
    assert routes == [[] for _ in range(inst.nv)]
    assert insert_all(inst, routes, pool, random.Random(0), blink=0.0) == []
