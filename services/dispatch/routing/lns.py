"""Ruin and recreate around OR-Tools: string removals, greedy re-insertion, OR-Tools polish, SA acceptance.

Plans are lists of model nodes per model vehicle. A candidate is proposed in pure Python (fast, using
insertion.py's checks) and, when promising, restored into the OR-Tools model and taken to a local
optimum there; only plans OR-Tools accepted are ever kept as current or best.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp

from .ejection import insert_by_ejection
from .insertion import Instance, insert_all, route_cost, route_ok
from .model import RawPlan, RawRoute, RoutingBuild
from .problem import Problem
from .search import SearchConfig, polish_params
from .timing import Failure, schedule

Routes = list[list[int]]


@dataclass
class Incumbent:
    """A plan accepted by OR-Tools: routes, objective and the solver's schedule."""

    routes: Routes
    objective: int
    plan: RawPlan | None  # read for best plans only


def python_path(problem: Problem, nodes: int, config: SearchConfig) -> bool:
    """Whether a search accepts steps in Python (see search.SearchConfig.python_accept_above): on big
    days. Polishing every promising step in OR-Tools was tried for big days without breaks and was
    far worse at 60 s on Gehring-Homberger (c1_10_1: 137 vehicles instead of 100, c2_4_1: 20
    instead of 13), though a little better on r1_4_1; with breaks it fails outright."""
    del problem  # kept in the signature: the choice may come to depend on the day's shape
    return nodes > config.python_accept_above


class RuinRecreate:
    """The search loop over one RoutingBuild."""

    def __init__(
        self,
        build: RoutingBuild,
        config: SearchConfig,
        rng: random.Random,
        on_best: Callable[[int], None] | None = None,
    ) -> None:
        self.build = build
        self.inst = Instance.from_build(build, exact_costs_up_to=config.polish_max_nodes)
        self.config = config
        self.rng = rng
        self.on_best = on_best
        # restoring a plan into OR-Tools alone takes time in proportion to its size
        self.params = polish_params(config.ls_time_s * max(1.0, (len(build.nodes) + len(build.vehicles)) / 100.0),
                                    config)
        self.mean_arc = max(1.0, float(build.dist.mean()) if build.dist.size else 1.0)
        self.iterations = 0
        self.polishes = 0
        self.complete_at: float | None = None
        self._break_vehicles = [v for v in range(self.inst.nv) if self.inst.brk[v] is not None]
        # vehicles whose routes OR-Tools answers are re-checked for (break, duration, distance, ride)
        self._checked_vehicles = [v for v in range(self.inst.nv) if self.inst.exact[v] or self.inst.brk[v] is not None]
        self.near_k = config.near_routes if python_path(build.problem, self.inst.n, config) else 0

    # --- conversions ----------------------------------------------------------------------------

    def routes_of(self, assignment: pywrapcp.Assignment) -> Routes:
        """Model-node routes of an assignment."""
        self.build.ensure()
        routing, manager = self.build.routing, self.build.manager
        out: Routes = []
        for v in range(self.inst.nv):
            index = assignment.Value(routing.NextVar(routing.Start(v)))
            route = []
            while not routing.IsEnd(index):
                route.append(manager.IndexToNode(index))
                index = assignment.Value(routing.NextVar(index))
            out.append(route)
        return out

    def cost(self, routes: Routes) -> int:
        """Objective as the model computes it: route costs plus penalties of unserved stops."""
        served = {x for r in routes for x in r}
        total = sum(route_cost(self.inst, v, r) for v, r in enumerate(routes))
        return total + sum(self.inst.penalty[u] for u in range(1, self.inst.n) if u not in served)

    def polish(self, routes: Routes, best_so_far: int | None = None) -> Incumbent | None:
        """Restore routes into OR-Tools and run its local search; None when the model rejects them.

        The solver's schedule is read only for a plan that beats ``best_so_far`` (reading is not free).
        """
        self.build.close(self.params)
        routing, manager = self.build.routing, self.build.manager
        start = routing.solver().Assignment()
        indices = [[manager.NodeToIndex(x) for x in r] for r in routes]
        if not routing.RoutesToAssignment(indices, True, True, start):
            return None
        solved = routing.SolveFromAssignmentWithParameters(start, self.params)
        self.polishes += 1
        if solved is None:
            return None
        return self._accepted(solved, best_so_far)

    def incumbent_from(self, assignment: pywrapcp.Assignment) -> Incumbent:
        """Wrap a solver assignment (e.g. the first solution)."""
        inc = self._accepted(assignment, None)
        assert inc is not None
        return inc

    def _accepted(self, solved: pywrapcp.Assignment, best_so_far: int | None) -> Incumbent | None:
        """An OR-Tools plan as an incumbent. Every route of a vehicle with a break, a duration,
        distance or specimen ride limit is re-checked by route_ok (the rule as timing.py and the
        checker hold it: latest-start schedule) -- an OR-Tools answer is never trusted alone (issue 8:
        a plan cut short under load once carried specimen rides over the limit). Failing routes are
        cut back from their end and their stops re-inserted; schedules then come from timing.schedule.
        Without break intervals in the model, break vehicles are always timed by timing.schedule."""
        routes = self.routes_of(solved)
        inst = self.inst
        loose: list[int] = []
        for v in self._checked_vehicles:
            route = routes[v]
            while len(route) > inst.prefix[v] and not route_ok(inst, v, route):
                loose.append(route.pop())
            if route and not route_ok(inst, v, route):
                return None  # even the locked prefix fails: not a usable plan
        if not loose and (self.build.settings.model_breaks or not self._break_vehicles):
            objective = int(solved.ObjectiveValue())
            plan = self.build.read(solved) if best_so_far is None or objective < best_so_far else None
            return Incumbent(routes, objective, plan)
        if loose:
            insert_all(inst, routes, loose, self.rng, blink=0.0)
        objective = self.cost(routes)
        plan = self.plan_of(routes) if best_so_far is None or objective < best_so_far else None
        return Incumbent(routes, objective, plan)

    def plan_of(self, routes: Routes) -> RawPlan:
        """RawPlan of model routes with schedules from timing.schedule (breaks included)."""
        build = self.build
        problem = build.problem
        raws: list[RawRoute] = []
        kept: Routes = []
        for v, route in enumerate(routes):
            p = build.vehicles[v]
            route = list(route)
            timed = schedule(problem, problem.vehicles[p], [build.nodes[x] for x in route]) if route else None
            while isinstance(timed, Failure) and len(route) > self.inst.prefix[v]:
                # the search's checks are meant to be at least as strict as timing.schedule; should a
                # route still fail it, its last stops are left out (the plan stays valid) rather than
                # the whole search failing
                route.pop()
                timed = schedule(problem, problem.vehicles[p], [build.nodes[x] for x in route]) if route else None
            if isinstance(timed, Failure):
                raise RuntimeError(f"locked prefix of {problem.vehicles[p].id} fails its schedule: {timed.message}")
            kept.append(route)
            if timed is not None:
                raws.append(RawRoute(p, tuple(build.nodes[x] for x in route), timed.starts, timed.depart,
                                     timed.end, timed.break_start))
        return RawPlan(tuple(raws), self.cost(kept))

    # --- moves ----------------------------------------------------------------------------------

    def ruin(self, routes: Routes, extra: int = 0, near: list[int] | None = None) -> tuple[Routes, list[int]]:
        """Remove strings of consecutive stops from routes near a random served stop (or near ``near``)."""
        inst, rng, cfg = self.inst, self.rng, self.config
        where = {x: v for v, r in enumerate(routes) for x in r}
        if not where:
            return [list(r) for r in routes], []
        sizes = [len(r) - inst.prefix[v] for v, r in enumerate(routes) if len(r) > inst.prefix[v]]
        avg_len = max(1.0, sum(sizes) / max(1, len(sizes)))
        l_max = min(cfg.max_string, avg_len)
        k_max = 4 * (cfg.remove_avg + extra) / (1 + l_max) - 1
        strings = int(rng.uniform(1, max(1.0, k_max) + 1))
        seed = rng.choice(list(where))
        if near:
            # start next to an unserved stop so the removal makes room where it is needed
            target = rng.choice(near)
            seed = next((c for c in inst.near[target] if c in where), seed)
        removed: set[int] = set()
        touched: set[int] = set()
        for c in [seed, *inst.near[seed]]:
            if len(touched) >= strings:
                break
            v = where.get(c)
            if v is None or v in touched:
                continue
            touched.add(v)
            route, lo_bound = routes[v], inst.prefix[v]
            movable = len(route) - lo_bound
            if movable <= 0:
                continue
            length = int(rng.uniform(1, min(movable, l_max) + 1))
            pos = route.index(c)
            if pos < lo_bound:
                continue
            lo = max(lo_bound, min(pos - rng.randrange(length), len(route) - length))
            removed.update(route[lo:lo + length])
        new = [[x for x in r if x not in removed] for r in routes]
        return new, list(removed)

    def open_route(self, routes: Routes, pool: list[int]) -> None:
        """Seed an idle vehicle with the removed stop farthest from the depot (lets the fleet grow)."""
        inst = self.inst
        idle = [v for v, r in enumerate(routes) if not r]
        if not idle:
            return
        u = max(pool, key=lambda x: inst.dist[0][x])
        for v in idle:
            allowed = inst.allowed[u]
            if (allowed is None or v in allowed) and route_ok(inst, v, [u]):
                routes[v] = [u]
                pool.remove(u)
                return

    def order(self, nodes: list[int]) -> list[int]:
        """SISR-style insertion order: random, largest demand, farthest or closest to the depot."""
        inst, rng = self.inst, self.rng
        pick = rng.random()
        if pick < 0.4:
            rng.shuffle(nodes)
        elif pick < 0.8:
            nodes.sort(key=lambda u: -sum(inst.deliver[u]) - sum(inst.pickup[u]))
        elif pick < 0.9:
            nodes.sort(key=lambda u: -inst.dist[0][u])
        else:
            nodes.sort(key=lambda u: inst.dist[0][u])
        return nodes

    # --- phases ---------------------------------------------------------------------------------

    def improve(self, start: Incumbent, deadline: float) -> Incumbent:
        """Simulated-annealing ruin and recreate until the deadline; returns the best plan."""
        cfg, rng = self.config, self.rng
        current, best = start, start
        t_begin = time.monotonic()
        span = max(1e-3, deadline - t_begin)
        t0, t1 = cfg.temp_start * self.mean_arc, cfg.temp_end * self.mean_arc
        stale = 0
        gains = _PolishGain(cfg.polish_factor, cfg.polish_quantile)
        grow = not self.build.problem.options.minimize_vehicles  # an extra vehicle never pays then
        big = self.near_k > 0
        polish_spent, best_polished = 0.0, True
        while time.monotonic() < deadline:
            self.iterations += 1
            stale += 1
            if cfg.restart_after and stale > cfg.restart_after:
                current, stale = best, 0  # wandered off too long: go back to the best plan
            routes, removed = self.ruin(current.routes)
            served = {x for r in routes for x in r}
            pool = [u for u in range(1, self.inst.n) if u not in served]
            if removed and grow and rng.random() < cfg.open_route_rate:
                self.open_route(routes, pool)
            insert_all(self.inst, routes, self.order(pool), rng, blink=cfg.blink, near_k=self.near_k)
            cand_cost = self.cost(routes)
            progress = min(1.0, (time.monotonic() - t_begin) / span)
            temperature = t0 * (t1 / t0) ** progress
            threshold = current.objective - temperature * math.log(max(1e-12, rng.random()))
            if big:
                # big days: the search's own checks hold every rule, so accept in Python (cost of a
                # step independent of the plan's size); OR-Tools polishes the best plan now and
                # then, within a capped share of the time
                if cand_cost >= threshold or routes == current.routes:
                    continue
                current = Incumbent(routes, cand_cost, None)
                if cand_cost < best.objective:
                    best, stale, best_polished = current, 0, False
                    self.mark(best)
                    if self.on_best is not None:
                        self.on_best(best.objective)
                now = time.monotonic()
                if not best_polished and self.inst.n <= cfg.polish_max_nodes and polish_spent < cfg.big_polish_share * (now - t_begin) \
                        and deadline - now > 0.5:
                    polished = self.polish(best.routes, best.objective)
                    polish_spent += time.monotonic() - now
                    best_polished = True
                    if polished is not None and polished.objective < best.objective:
                        best = current = polished
                        self.mark(best)
                        if self.on_best is not None:
                            self.on_best(best.objective)
                continue
            if cand_cost >= threshold * gains.factor() or routes == current.routes:
                continue  # unlikely to be acceptable even after a polish, or rebuilt exactly as it was
            polished = self.polish(routes, best.objective)
            if polished is not None and polished.objective > 0:
                gains.add(cand_cost / polished.objective)
            if polished is None or polished.objective >= threshold:
                continue
            current = polished
            if polished.objective < best.objective:
                best, stale = polished, 0
                self.mark(best)
                if self.on_best is not None:
                    self.on_best(best.objective)
        if best.plan is None:
            best = Incumbent(best.routes, best.objective, self.plan_of(best.routes))
        return best

    def empty_one_route(self, start: Incumbent, deadline: float,
                        skip: frozenset[int] = frozenset()) -> tuple[Routes | None, int | None]:
        """Try to serve every stop without the shortest route not in ``skip`` (absence-guided).

        The attempt goes on until every stop is served, ``deadline``, or ``config.elimination_tries``
        tries in a row have not left fewer stops out than the fewest so far: an attempt still
        closing in is not thrown away (on rc2_10_1 an attempt cut at a fixed 2,000 tries had one
        stop left out, and the next route tried started again from twenty).
        Returns (plan or None, the route tried), or (None, None) when no route may be tried."""
        inst, rng = self.inst, self.rng
        used = [v for v, r in enumerate(start.routes) if len(r) > inst.prefix[v] and inst.prefix[v] == 0]
        candidates = [v for v in used if v not in skip]
        if len(used) <= 1 or not candidates:
            return None, None
        victim = min(candidates, key=lambda v: (len(start.routes[v]), rng.random()))
        # neither the victim nor a vehicle that is idle now may take the victim's stops
        disabled = frozenset([victim] + [v for v, r in enumerate(start.routes) if not r])
        routes = [list(r) if v != victim else [] for v, r in enumerate(start.routes)]
        served = {x for r in routes for x in r}
        pool = [u for u in range(1, inst.n) if u not in served]
        insert_all(inst, routes, self.order(pool), rng, disabled=disabled, blink=0.0)
        missing = self.missing(routes)
        absences = [0] * inst.n
        fewest, stalled = len(missing), 0
        while missing and time.monotonic() < deadline and stalled < self.config.elimination_tries:
            stalled += 1
            self.iterations += 1
            cand, removed = self.ruin(routes, extra=len(missing), near=missing if rng.random() < 0.5 else None)
            left = insert_all(inst, cand, self.order([*missing, *removed]), rng, disabled=disabled,
                              blink=self.config.blink)
            if left and self.config.ejections:
                left = self.eject(cand, left, absences, disabled)
            for u in missing:
                absences[u] += 1
            if len(left) < len(missing) or sum(absences[u] for u in left) < sum(absences[u] for u in missing):
                routes, missing = cand, left
                if len(missing) < fewest:
                    fewest, stalled = len(missing), 0
        return (routes if not missing else None), victim

    def eject(self, routes: Routes, left: list[int], absences: list[int], disabled: frozenset[int]) -> list[int]:
        """Put the most often left-out stops in by ejecting easier ones (ejection.py), then try the
        ejected stops anywhere; returns the stops still out."""
        inst = self.inst
        for u in sorted(left, key=lambda x: -absences[x])[:self.config.ejections]:
            w = insert_by_ejection(inst, routes, u, absences, disabled, self.config.ejection_neighbours)
            if w is not None:
                insert_all(inst, routes, [w], self.rng, disabled=disabled, blink=0.0)
        return self.missing(routes)

    def mark(self, best: Incumbent) -> None:
        """Remember when the search first held a plan serving every stop in the model."""
        if self.complete_at is None and not self.missing(best.routes):
            self.complete_at = time.monotonic()

    def missing(self, routes: Routes) -> list[int]:
        served = {x for r in routes for x in r}
        return [u for u in range(1, self.inst.n) if u not in served]


class _PolishGain:
    """How much a polish typically improves a recreated plan, learnt as the search goes.

    A candidate is polished only if a typical polish (this quantile of recent gains) could make it
    acceptable: long routes gain a lot from OR-Tools' local search, short ones little.
    """

    def __init__(self, initial: float, quantile: float, memory: int = 64) -> None:
        self.initial = initial
        self.quantile = quantile
        self.memory = memory
        self.ratios: list[float] = []

    def add(self, ratio: float) -> None:
        self.ratios.append(ratio)
        if len(self.ratios) > self.memory:
            self.ratios.pop(0)

    def factor(self) -> float:
        if len(self.ratios) < 8:
            return self.initial
        ordered = sorted(self.ratios)
        return max(1.0, ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))])
