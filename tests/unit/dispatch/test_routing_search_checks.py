"""The search's own route checks (insertion.route_feasible) are never looser than timing.schedule,
which plans are timed and checked by: a route the search accepts always gets a schedule.

Found on a 2,000-stop county day: the search kept a route whose specimen ride timing.schedule
then refused (14,601 s against a 4 h limit), and that search process failed. The search had mixed
latest and earliest service starts per stop where timing.schedule takes one schedule throughout.
This sweep guards the invariant on small days (it did not catch that case at this size: the
2,000-stop day, bench/county_scale.py, is where it showed).
"""

from __future__ import annotations

import random

from test_routing_big_days import _county_like  # same folder (pytest puts it on sys.path)

from services.dispatch.routing.insertion import route_feasible
from services.dispatch.routing.instance import Instance
from services.dispatch.routing.model import BuildSettings, RoutingBuild
from services.dispatch.routing.screen import screen
from services.dispatch.routing.timing import Failure, schedule


def test_every_route_the_search_accepts_has_a_schedule() -> None:
    accepted = 0
    for seed in range(4):
        problem = _county_like(40, seed=seed)
        problem = problem.with_options(specimen_max_ride_s=90 * 60)  # rides bind
        build = RoutingBuild(problem, screen(problem),
                             BuildSettings(vehicles=tuple(range(len(problem.vehicles))), model_breaks=False), lazy=True)
        inst = Instance.from_build(build)
        rng = random.Random(seed)
        for _ in range(600):
            v = rng.randrange(inst.nv)
            route = rng.sample(range(1, inst.n), rng.randint(1, 8))
            route.sort(key=lambda x: (inst.early[x], inst.late[x]))  # more routes pass the windows
            if not route_feasible(inst, v, route):
                continue
            accepted += 1
            timed = schedule(problem, problem.vehicles[build.vehicles[v]], [build.nodes[x] for x in route])
            assert not isinstance(timed, Failure), (v, route, timed)
    assert accepted > 50  # the sweep does test accepted routes
