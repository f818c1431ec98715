"""Insertion by ejection for route elimination: a stop that fits nowhere takes the place of an
easier one.

When a route is being emptied, some of its stops often fit in no other route as the plan stands. The
ejection move puts such a stop u into a route by taking one stop w out of it, where w has been left
out less often than u (the absence counts the elimination keeps), so the hard stops get in and the
easy ones go back to the pool, to be re-inserted elsewhere. This is the ejection-pool idea of Nagata
and Bräysy's route-minimisation heuristic (Nagata, Y., Bräysy, O. (2009) "A powerful route
minimization heuristic for the vehicle routing problem with time windows", Operations Research
Letters 37(5):333-338), restricted here to one ejected stop among u's nearest neighbours so that a
move costs O(neighbours x route length) and not more.
"""

from __future__ import annotations

from .insertion import route_cache, route_ok, time_run
from .instance import Instance


def insert_by_ejection(inst: Instance, routes: list[list[int]], u: int, absences: list[int],
                       disabled: frozenset[int], neighbours: int) -> int | None:
    """Put unserved stop ``u`` into a route (in place) by ejecting one stop served near it.

    Candidates w are the served stops among u's ``neighbours`` nearest stops, outside locked route
    prefixes and in vehicles that may serve u and are not ``disabled``, with ``absences[w] <
    absences[u]``. For each, u goes to the cheapest position of w's route without w where windows,
    shift and every compartment hold (O(1) checks on a cache of that route), then the whole route
    is checked (breaks, duration, distance, ride times). The move ejecting the least-absent w, then
    the cheapest, is made. Returns the ejected stop (now unserved), or None when no move exists.
    """
    where = {x: v for v, r in enumerate(routes) for x in r}
    allowed = inst.allowed[u]
    moves: list[tuple[int, int, int, int, int]] = []  # (absences of w, delta, vehicle, w's index, position)
    for w in inst.near[u][:neighbours]:
        v = where.get(w)
        if v is None or v in disabled or (allowed is not None and v not in allowed):
            continue
        if absences[w] >= absences[u]:
            continue
        route = routes[v]
        i = route.index(w)
        if i < inst.prefix[v]:
            continue
        trial = route[:i] + route[i + 1:]
        cache = route_cache(inst, v, trial)
        m, seq = inst.cost[v], cache.seq
        best: tuple[int, int] | None = None
        for k in time_run(inst, v, cache, u):
            if not cache.feasible_time(k, u, inst) or not cache.feasible_load(k, u, inst, v):
                continue
            p, q = seq[k], seq[k + 1]
            delta = m[p][u] + m[u][q] - m[p][q]
            if best is None or delta < best[0]:
                best = (delta, k)
        if best is not None:
            moves.append((absences[w], best[0], v, i, best[1]))
    for _, _, v, i, k in sorted(moves)[:8]:
        route = routes[v]
        w = route[i]
        trial = route[:i] + route[i + 1:]
        trial.insert(k, u)
        if inst.exact[v] and not route_ok(inst, v, trial):
            continue
        routes[v] = trial
        return w
    return None
