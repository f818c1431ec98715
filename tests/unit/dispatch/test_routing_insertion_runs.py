"""The insertion search scans only the run of positions where a stop can fit in time (insertion.py
``_options``: earliest and latest service starts never decrease along a route, so positions with
a[k] > l_u or z[k+1] < e_u + s_u are skipped). Property: on tight windows (Solomon C101) and county
days (lunch-closed periods, compartments, breaks) the positions offered are exactly those every
O(1) check accepts when all positions are scanned."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing_big_days import _county_like  # same folder (pytest puts it on sys.path)

from services.dispatch.routing.formats import read_instance
from services.dispatch.routing.insertion import RouteCache, _options, insert_all, route_feasible
from services.dispatch.routing.instance import Instance
from services.dispatch.routing.model import BuildSettings, RoutingBuild
from services.dispatch.routing.problem import Problem
from services.dispatch.routing.screen import screen

DATA = Path(__file__).resolve().parents[2] / "data" / "vrp"
_CACHE: dict[str, Instance] = {}


def _instance(name: str) -> Instance:
    if name not in _CACHE:
        problem: Problem = read_instance(DATA / "C101.txt") if name == "C101" else _county_like(40, seed=int(name))
        build = RoutingBuild(problem, screen(problem),
                             BuildSettings(vehicles=tuple(range(len(problem.vehicles))), model_breaks=False), lazy=True)
        _CACHE[name] = Instance.from_build(build)
    return _CACHE[name]


def random_route(inst: Instance, rng: random.Random) -> tuple[int, list[list[int]]]:
    """A random vehicle and routes where only it serves stops, built as the search builds a route:
    cheapest insertion of a random sample into that vehicle alone."""
    v = rng.randrange(inst.nv)
    routes: list[list[int]] = [[] for _ in range(inst.nv)]
    insert_all(inst, routes, rng.sample(range(1, inst.n), rng.randint(1, 30)), rng,
               disabled=frozenset(range(inst.nv)) - {v}, blink=0.0)
    return v, routes


def _every_position(inst: Instance, v: int, route: list[int], u: int) -> set[int]:
    cache = RouteCache(inst, v, route)
    return {k for k in range(inst.prefix[v], len(cache.seq) - 1)
            if cache.feasible_time(k, u, inst) and cache.feasible_load(k, u, inst, v)}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(name=st.sampled_from(["C101", "0", "1", "2"]), salt=st.integers(0, 100_000))
def test_the_positions_offered_are_exactly_those_every_check_accepts(name: str, salt: int) -> None:
    inst = _instance(name)
    rng = random.Random(salt)
    v, routes = random_route(inst, rng)
    route = routes[v]
    assert not route or route_feasible(inst, v, route)
    u = rng.choice([x for x in range(1, inst.n) if x not in route])
    options: list[tuple[int, int, int]] = []
    _options(inst, routes, [None] * inst.nv, u, [v], None, frozenset(), set(), options, 0.0, rng.random,
             inst.travel, inst.travel[u], inst.periods[u], inst.comps_of[u])
    assert {k for _, _, k in options} == _every_position(inst, v, route, u)
