"""Fast insertion checks for the ruin-and-recreate search, over the model's nodes and vehicles.

This is the search's own heuristic view of feasibility: windows, shifts and compartment loads are
checked in O(1) per position from cached forward/backward times and load profiles; breaks, route
duration and distance, and specimen ride times are checked on the whole route (conservatively) only
for the position finally chosen. The OR-Tools model remains the authority: every plan the search
keeps has been restored into the model and improved by its local search.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from .instance import INF, Instance, open_from, open_until


class RouteCache:
    """Earliest/latest service starts and load profile of one route, for O(1) insertion checks."""

    __slots__ = ("seq", "a", "z", "pm", "sm")

    def __init__(self, inst: Instance, v: int, route: list[int]) -> None:
        seq = [0, *route, 0]
        self.seq = seq
        start, end = inst.shift[v]
        tr, sv, ea, la, per = inst.travel, inst.service, inst.early, inst.late, inst.periods
        # plain comparisons instead of max()/min(): this runs for every route a search step
        # changes (a third of route elimination's time on rc2_10_1)
        a = [start] * len(seq)
        t, p = start, 0
        for k in range(1, len(seq)):
            x = seq[k]
            t += sv[p] + tr[p][x]
            if t < ea[x]:
                t = ea[x]
            if per[x] is not None:
                t = open_from(per[x], t)
            a[k] = t
            p = x
        z = [end] * len(seq)
        lat, q = end, 0
        for k in range(len(seq) - 2, -1, -1):
            x = seq[k]
            lat -= sv[x] + tr[x][q]
            if k:
                if la[x] < lat:
                    lat = la[x]
                if per[x] is not None:
                    lat = open_until(per[x], lat)
            elif end < lat:
                lat = end
            z[k] = lat
            q = x
        self.a, self.z = a, z
        ncomp = len(inst.cap[v])
        self.pm: list[list[int]] = []
        self.sm: list[list[int]] = []
        deliver, pickup = inst.deliver, inst.pickup
        for c in range(ncomp):
            load = 0
            for x in route:
                load += deliver[x][c]
            best = load
            pm = [best]
            prof = [load]
            for x in route:
                load += pickup[x][c] - deliver[x][c]
                prof.append(load)
                if load > best:
                    best = load
                pm.append(best)
            sm = prof[:]
            best = -INF
            for k in range(len(prof) - 1, -1, -1):
                if prof[k] > best:
                    best = prof[k]
                sm[k] = best
            self.pm.append(pm)
            self.sm.append(sm)

    def feasible_time(self, k: int, u: int, inst: Instance) -> bool:
        """Windows and shift still hold when u goes between seq[k] and seq[k+1]."""
        p, q = self.seq[k], self.seq[k + 1]
        au = max(inst.early[u], self.a[k] + inst.service[p] + inst.travel[p][u])
        if inst.periods[u] is not None:
            au = open_from(inst.periods[u], au)
        return au <= inst.late[u] and au + inst.service[u] + inst.travel[u][q] <= self.z[k + 1]

    def feasible_load(self, k: int, u: int, inst: Instance, v: int) -> bool:
        """Every compartment stays within capacity when u goes after position k."""
        cap = inst.cap[v]
        for c in inst.comps_of[u]:
            if self.pm[c][k] + inst.deliver[u][c] > cap[c] or self.sm[c][k] + inst.pickup[u][c] > cap[c]:
                return False
        return True


ROUTE_CACHE_SIZE = 4096
"""Route caches kept per search (least recently used dropped first): a step of the search changes a
few routes, and every other route's cache is found again instead of being rebuilt (building them
was 40% of the route-elimination time on rc2_10_1, 1,000 customers, routes of ~50 stops)."""


def route_cache(inst: Instance, v: int, route: list[int]) -> RouteCache:
    """The RouteCache of ``route`` on vehicle ``v``, from the search's store or built and stored.

    A cache depends only on the vehicle and the stops in order (the Instance never changes), and
    is never modified once built, so one found again is exactly the one that would be built."""
    key = (v, *route)
    store = inst.route_caches
    cache = store.pop(key, None)
    if cache is None:
        cache = RouteCache(inst, v, route)
        if len(store) >= ROUTE_CACHE_SIZE:
            del store[next(iter(store))]
    store[key] = cache
    return cache


def time_run(inst: Instance, v: int, cache: RouteCache, u: int) -> range:
    """The positions k (u between seq[k] and seq[k+1]) where u may fit in time, as one run.

    Earliest starts (a) and latest starts (z) never decrease along a route, so u must be reached
    by its latest start (a[k] <= late[u]) and be done in time for the next stop (z[k+1] >=
    early[u] + service[u]); the positions meeting both are contiguous. Positions in the run still
    need feasible_time (travel to and from u); none outside it can pass."""
    lo = max(inst.prefix[v], bisect_left(cache.z, inst.early[u] + inst.service[u]) - 1)
    hi = min(len(cache.seq) - 1, bisect_right(cache.a, inst.late[u]))
    return range(lo, hi)


def route_feasible(inst: Instance, v: int, route: list[int]) -> bool:
    """Every rule on one route: loads per compartment along the route, then the schedule."""
    cap = inst.cap[v]
    for c in range(len(cap)):
        load = sum(inst.deliver[x][c] for x in route)
        if load > cap[c]:
            return False
        for x in route:
            load += inst.pickup[x][c] - inst.deliver[x][c]
            if load > cap[c]:
                return False
    return route_ok(inst, v, route)


def route_ok(inst: Instance, v: int, route: list[int]) -> bool:
    """Whole-route check (conservative) for breaks, max duration/distance and specimen ride times."""
    if inst.max_dist[v] is not None:
        total, p = 0, 0
        for x in route:
            total += inst.dist[p][x]
            p = x
        if total + inst.dist[p][0] > inst.max_dist[v]:  # type: ignore[operator]
            return False
    brk = inst.brk[v]
    if brk is None:
        return _schedule_ok(inst, v, route, None)
    return any(_schedule_ok(inst, v, route, g) for g in _break_gaps(inst, v, route, brk))


def _break_gaps(inst: Instance, v: int, route: list[int], brk: tuple[int, int, int]) -> list[int]:
    """Gaps worth trying for the break: legs left no later than the break's latest start (a break
    only ever delays what follows), nearest to the break window's opening first; then after
    returning, then before leaving."""
    tr, sv, early, per = inst.travel, inst.service, inst.early, inst.periods
    t, p = inst.shift[v][0], 0
    leaves = [t]
    for x in route:
        t = max(early[x], t + sv[p] + tr[p][x])
        if per[x] is not None:
            t = open_from(per[x], t)
        leaves.append(t + sv[x])
        p = x
    last = brk[1] - brk[2]
    legs = [k for k in range(len(route) + 1) if leaves[k] <= last]
    legs.sort(key=lambda k: abs(leaves[k] - brk[0]))
    return [*legs, len(route) + 1, -1]


def _schedule_ok(inst: Instance, v: int, route: list[int], gap: int | None) -> bool:
    """Forward earliest schedule with the break in gap ``gap`` (-1 before start, len+1 after end)."""
    start, end = inst.shift[v]
    tr, sv = inst.travel, inst.service
    brk = inst.brk[v]
    t = start
    if gap == -1 and brk is not None:
        b = max(t, brk[0])
        if b + brk[2] > brk[1]:
            return False
        t = b + brk[2]
    depart = t
    p = 0
    starts: list[int] = []
    seq = [*route, 0]
    for k, x in enumerate(seq):
        d = t + sv[p]
        arrive = d + tr[p][x]
        if gap == k and brk is not None:
            b = max(d, brk[0])
            if b + brk[2] > brk[1]:
                return False
            arrive = max(arrive + brk[2], b + brk[2])
        if x == 0:
            t = arrive
            break
        t = max(inst.early[x], arrive)
        if inst.periods[x] is not None:
            t = open_from(inst.periods[x], t)
        if t > inst.late[x]:
            return False
        starts.append(t)
        p = x
    if t > end:
        return False
    if gap == len(route) + 1 and brk is not None:
        b = max(t, brk[0])
        if b + brk[2] > min(brk[1], end):
            return False
    limit = inst.max_dur[v]
    ride = inst.ride_limit
    if not route or (limit is None and ride is None):
        return True
    # latest departure and service starts that still return by t: shortest duration and rides
    latest = [0] * (len(route) + 1)
    nxt, nxt_start = 0, t
    for k in range(len(route), -1, -1):
        here = route[k - 1] if k else 0
        leave = nxt_start - tr[here][nxt]
        if gap == k and brk is not None:
            leave = min(leave - brk[2], brk[1] - brk[2])
        s = leave - sv[here]
        if k:
            s = min(s, inst.late[here])
            if inst.periods[here] is not None:
                s = open_until(inst.periods[here], s)
        latest[k] = s
        nxt, nxt_start = here, s
    # as timing.schedule does: the latest-start schedule when it is consistent with the earliest
    # one, else the earliest schedule throughout (mixing the two per stop was optimistic: the search
    # then kept specimen rides that timing.schedule and the checker refuse)
    if latest[0] < depart or any(latest[k] < starts[k - 1] for k in range(1, len(route) + 1)):
        latest = [depart, *starts]
    if limit is not None and t - latest[0] > limit:
        return False
    if ride is not None:
        for k, x in enumerate(route, start=1):
            if inst.specimen[x] and t - latest[k] > ride:
                return False
    return True


def route_cost(inst: Instance, v: int, route: list[int]) -> int:
    """Arc costs plus the fixed cost of a non-empty route."""
    if not route:
        return 0
    c, p, m = 0, 0, inst.cost[v]
    for x in route:
        c += m[p][x]
        p = x
    c += m[p][0]
    f = inst.scale[v]
    return inst.fixed[v] + (c if f == 1.0 else round(c * f))


def insert_all(
    inst: Instance,
    routes: list[list[int]],
    pool: list[int],
    rng: random.Random,
    disabled: frozenset[int] = frozenset(),
    blink: float = 0.01,
    near_k: int = 0,
    deadline: float = math.inf,
) -> list[int]:
    """Greedy cheapest insertion of ``pool`` into ``routes`` (in place); returns nodes left out.

    Past ``deadline`` (time.monotonic()) the stops not yet tried are left out as they are: with an
    owed break each whole-route check tries every gap, and a first plan or a last insertion of
    hundreds of stops into two long routes took 40 s past a 5 s limit (fresh eyes, 2026-12-06).

    ``near_k`` > 0 (big days): only routes serving one of the stop's ``near_k`` nearest stops, and
    idle vehicles, are tried first (all routes when none of those fits), so a step's cost does not
    grow with the size of the plan.
    """
    caches: list[RouteCache | None] = [None] * inst.nv
    left: list[int] = []
    where = {x: v for v, r in enumerate(routes) for x in r} if near_k else {}
    travel = inst.travel
    rand = rng.random
    for i, u in enumerate(pool):
        if deadline < math.inf and time.monotonic() > deadline:
            left.extend(pool[i:])
            break
        allowed = inst.allowed[u]
        per_u = inst.periods[u]
        t_from_u = travel[u]
        comps = inst.comps_of[u]
        options: list[tuple[int, int, int]] = []  # (delta, vehicle, position)
        empty_seen: set[int] = set()
        if near_k:
            close = {where[x] for x in inst.near[u][:near_k] if x in where}
            order = sorted(close) + [v for v in range(inst.nv) if not routes[v]]
            rounds = [order, [v for v in range(inst.nv) if v not in close and routes[v]]]
        else:
            rounds = [list(range(inst.nv))]
        placed = False
        for vehicles in rounds:
            options.clear()
            _options(inst, routes, caches, u, vehicles, allowed, disabled, empty_seen, options, blink, rand,
                     travel, t_from_u, per_u, comps)
            v_placed = _place(inst, routes, caches, u, options)
            if v_placed is not None:
                placed = True
                if near_k:
                    where[u] = v_placed
                break
        if not placed:
            left.append(u)
    return left


def _place(inst: Instance, routes: list[list[int]], caches: list[RouteCache | None], u: int,
           options: list[tuple[int, int, int]]) -> int | None:
    """Put u at the cheapest option that passes the whole-route checks; the vehicle, or None."""
    if not options:
        return None
    options.sort()
    # whole-route checks are the expensive part: try a bounded number of the cheapest
    # positions, then the cheapest idle vehicle, which rarely fails those checks
    budget = 24
    idle = next(((d, v, k) for d, v, k in options if not routes[v]), None)
    tries = [o for o in options if routes[o[1]]][:budget] + ([idle] if idle else [])
    for delta, v, k in sorted(tries):
        if delta >= inst.penalty[u]:
            break
        trial = routes[v][:k] + [u] + routes[v][k:]
        if inst.exact[v] and not route_ok(inst, v, trial):
            continue
        routes[v] = trial
        caches[v] = None
        return v
    return None


def _options(inst: Instance, routes: list[list[int]], caches: list[RouteCache | None], u: int, vehicles: list[int],
             allowed: frozenset[int] | None, disabled: frozenset[int],
             empty_seen: set[int],
             options: list[tuple[int, int, int]], blink: float, rand: Callable[[], float],
             travel: list[list[int]], t_from_u: list[int], per_u: tuple[tuple[int, int], ...] | None,
             comps: list[int]) -> None:
    """Every time- and load-feasible position for u in the given vehicles' routes, appended to options."""
    e_u, l_u, s_u = inst.early[u], inst.late[u], inst.service[u]
    service = inst.service
    for v in vehicles:
        if v in disabled or (allowed is not None and v not in allowed):
            continue
        r = routes[v]
        if not r:
            # identical empty vehicles give identical options: try one per class
            key = inst.vclass[v]
            if key in empty_seen:
                continue
            empty_seen.add(key)
        cache = caches[v]
        if cache is None:
            cache = caches[v] = route_cache(inst, v, r)
        seq, a, z = cache.seq, cache.a, cache.z
        cap = inst.cap[v]
        # a route whose peak load leaves room for u's amounts needs no per-position load check
        check_load = False
        for c in comps:
            peak = cache.pm[c][-1]
            if peak + inst.deliver[u][c] > cap[c] or peak + inst.pickup[u][c] > cap[c]:
                check_load = True
                break
        m = inst.cost[v]
        mu = m[u]
        f = inst.scale[v]
        base = inst.fixed[v] if not r else 0
        # only the run of positions where u can fit in time (tight windows cut most of them)
        for k in time_run(inst, v, cache, u):
            if blink and rand() < blink:
                continue
            p, q = seq[k], seq[k + 1]
            au = a[k] + service[p] + travel[p][u]
            if au < e_u:
                au = e_u
            if per_u is not None:
                au = open_from(per_u, au)
            if au > l_u or au + s_u + t_from_u[q] > z[k + 1]:
                continue
            if check_load and not cache.feasible_load(k, u, inst, v):
                continue
            delta = m[p][u] + mu[q] - m[p][q]
            options.append((base + (delta if f == 1.0 else round(delta * f)), v, k))
