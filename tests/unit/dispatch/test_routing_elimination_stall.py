"""Route elimination keeps an attempt going while it closes in (lns.RuinRecreate.empty_one_route).

Rule: an attempt to empty a route ends when every stop is served, at its deadline, or after
``elimination_tries`` tries in a row that did not leave fewer stops out than the fewest so far.
On rc2_10_1 an attempt cut at a fixed number of tries had one stop left out, and the next route
tried started again from twenty.

The test watches an attempt through ``ruin`` (called once per try, with the attempt's current
routes) in a subclass that only records, so the real loop runs unchanged. A failed attempt must
have made exactly ``elimination_tries`` tries after its last new fewest (the initial insertion
counts as the first); a fixed cap on tries fails this whenever the fewest fell after the start.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing_big_days import _county_like  # same folder (pytest puts it on sys.path)

from services.dispatch.routing.insertion import insert_all
from services.dispatch.routing.lns import Incumbent, Routes, RuinRecreate
from services.dispatch.routing.model import BuildSettings, RoutingBuild
from services.dispatch.routing.screen import screen
from services.dispatch.routing.search import CONFIGS


class Watched(RuinRecreate):
    """RuinRecreate that records how many stops each try starts with left out."""

    left_out_before_try: list[int]

    def ruin(self, routes: Routes, extra: int = 0, near: list[int] | None = None) -> tuple[Routes, list[int]]:
        self.left_out_before_try.append(len(self.missing(routes)))
        return super().ruin(routes, extra, near)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 5), salt=st.integers(0, 10_000), limit=st.integers(1, 12))
def test_an_attempt_ends_only_after_the_limit_of_tries_without_fewer_stops_left_out(
        seed: int, salt: int, limit: int) -> None:
    problem = _county_like(40, seed=seed)
    build = RoutingBuild(problem, screen(problem),
                         BuildSettings(vehicles=tuple(range(len(problem.vehicles))), model_breaks=False), lazy=True)
    config = replace(CONFIGS["tuned"], elimination_tries=limit)
    rr = Watched(build, config, random.Random(salt))
    rr.left_out_before_try = []
    inst = rr.inst
    routes: list[list[int]] = [[] for _ in range(inst.nv)]
    insert_all(inst, routes, random.Random(salt).sample(range(1, inst.n), inst.n - 1), rr.rng, blink=0.0)
    start = Incumbent(routes, rr.cost(routes), None)
    emptied, victim = rr.empty_one_route(start, time.monotonic() + 600)
    if victim is None or emptied is not None:
        return  # nothing to try, or the route went: no stall to check
    seen = rr.left_out_before_try
    assert seen, "a failed attempt made at least one try"
    last_fewest = max(t for t in range(len(seen)) if t == 0 or seen[t] < min(seen[:t]))
    assert len(seen) == last_fewest + limit, seen
