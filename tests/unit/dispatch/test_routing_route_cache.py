"""Route caches are kept across the search's steps (insertion.route_cache): a cache found again must
be exactly the one that would be built, so a search with the store gives the same plans, step for
step, as one that rebuilds every cache; and the store stays within its size."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing_insertion_runs import _instance, random_route  # same folder (pytest puts it on sys.path)

from services.dispatch.routing import insertion
from services.dispatch.routing.ejection import insert_by_ejection
from services.dispatch.routing.insertion import RouteCache, insert_all, route_cache


def _steps(name: str, salt: int, fresh: bool) -> list[list[list[int]]]:
    """Ruin-and-recreate steps on one instance; with ``fresh`` the store is emptied before each step."""
    inst = _instance(name)
    inst.route_caches.clear()
    rng = random.Random(salt)
    routes: list[list[int]] = [[] for _ in range(inst.nv)]
    absences = [0] * inst.n
    seen = []
    for _ in range(12):
        if fresh:
            inst.route_caches.clear()
        served = {x for r in routes for x in r}
        removed = set(rng.sample(sorted(served), min(len(served), rng.randint(0, 8))))
        routes = [[x for x in r if x not in removed] for r in routes]
        pool = [u for u in range(1, inst.n) if u not in served or u in removed]
        rng.shuffle(pool)
        left = insert_all(inst, routes, pool[:rng.randint(1, 25)], rng, blink=0.0)
        for u in left:
            absences[u] += 2
            if fresh:
                inst.route_caches.clear()
            insert_by_ejection(inst, routes, u, absences, frozenset(), 30)
        seen.append([list(r) for r in routes])
    return seen


@settings(max_examples=40, deadline=None, derandomize=True)
@given(name=st.sampled_from(["C101", "0", "1"]), salt=st.integers(0, 100_000))
def test_steps_with_kept_caches_are_the_steps_with_rebuilt_ones(name: str, salt: int) -> None:
    assert _steps(name, salt, fresh=False) == _steps(name, salt, fresh=True)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(name=st.sampled_from(["C101", "2"]), salt=st.integers(0, 100_000))
def test_a_cache_found_again_equals_a_new_one(name: str, salt: int) -> None:
    inst = _instance(name)
    v, routes = random_route(inst, random.Random(salt))
    route = routes[v]
    first = route_cache(inst, v, route)
    again = route_cache(inst, v, list(route))
    new = RouteCache(inst, v, route)
    assert again is first
    assert (again.seq, again.a, again.z, again.pm, again.sm) == (new.seq, new.a, new.z, new.pm, new.sm)


def test_the_store_keeps_the_most_recently_used_within_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(insertion, "ROUTE_CACHE_SIZE", 3)
    inst = _instance("C101")
    inst.route_caches.clear()
    a = route_cache(inst, 0, [1])
    route_cache(inst, 0, [2])
    route_cache(inst, 0, [3])
    assert route_cache(inst, 0, [1]) is a  # used again: now the most recent
    route_cache(inst, 0, [4])  # drops [2], the least recently used
    assert set(inst.route_caches) == {(0, 3), (0, 1), (0, 4)}
    assert route_cache(inst, 1, [1]) is not a  # another vehicle, another cache


@settings(max_examples=60, deadline=None, derandomize=True)
@given(name=st.sampled_from(["C101", "0", "1", "2"]), salt=st.integers(0, 100_000))
def test_a_cache_holds_the_earliest_and_latest_starts_and_load_peaks_by_their_definitions(name: str, salt: int) -> None:
    """RouteCache against its definitions, written out plainly: a[k] the earliest start at seq[k]
    going forward from the shift start (waiting for the window and the next receiving period),
    z[k] the latest start that still lets every later stop and the return keep their windows and
    the shift end, pm/sm the highest load up to and from each position per compartment."""
    inst = _instance(name)
    v, routes = random_route(inst, random.Random(salt))
    route = routes[v]
    cache = RouteCache(inst, v, route)
    seq = [0, *route, 0]
    start, end = inst.shift[v]
    a = [start]
    for k in range(1, len(seq)):
        t = max(inst.early[seq[k]], a[-1] + inst.service[seq[k - 1]] + inst.travel[seq[k - 1]][seq[k]])
        a.append(insertion.open_from(inst.periods[seq[k]], t) if inst.periods[seq[k]] is not None else t)
    z = [end] * len(seq)
    for k in range(len(seq) - 2, -1, -1):
        x = seq[k]
        t = min(inst.late[x] if k else end, z[k + 1] - inst.service[x] - inst.travel[x][seq[k + 1]])
        z[k] = insertion.open_until(inst.periods[x], t) if k and inst.periods[x] is not None else t
    assert cache.a == a and cache.z == z
    for c in range(len(inst.cap[v])):
        loads = [sum(inst.deliver[x][c] for x in route)]
        for x in route:
            loads.append(loads[-1] + inst.pickup[x][c] - inst.deliver[x][c])
        assert cache.pm[c] == [max(loads[: k + 1]) for k in range(len(loads))]
        assert cache.sm[c] == [max(loads[k:]) for k in range(len(loads))]
