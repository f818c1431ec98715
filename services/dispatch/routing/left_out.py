"""Why each stop the search left out is not in the final plan: the reason step (issue 8 §3).

Used by solver.assemble (every day) and regions.reasons (days solved by region), so one rule
names every left-out stop on every path:

1. ``time_limit`` ("a longer time limit would serve it") only when the stop still fits the final
   plan under every rule (shortage.binding_rule found a position, or an idle vehicle);
2. else ``not_enough_vehicles`` when a bound proves the fleet short for the stop's priority and its
   own compartments (shortage.proven_shortage), or when stops that can share no route outnumber the
   vehicles that can serve them (shortage.conflict_shortage);
3. else the rule that keeps it off the routes (``max_distance``, ``break``, ``window`` ...).

The step has a time allowance that grows with the number of stops left out
(``reason_seconds``), and spends it in two passes: first where each stop could go (past the
allowance each stop still gets its nearest route tried whole, for as long again), then the
costlier conflict proofs while time remains. A stop whose routes were not all tried says so: the
rule that kept it off the routes nearest it, and how many were not tried (a proof of shortage is
not its cause then: it may fit a route not tried); one with no route tried at all is
``not_checked``, never ``time_limit``. Before (fresh eyes,
2026-12-06) one fixed allowance of at most 2 s was shared, and on a 300-stop day with a 40 km limit
151 of 156 stops that fit no route were reported as a short search once it ran out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .problem import Priority, Problem
from .screen import Screening
from .shortage import SHORT_OF, Binding, OutOfBudget, binding_rule, conflict_shortage, proven_shortage
from .solution import Unassigned
from .timing import RULE_NOT_CHECKED, RULE_SHORTAGE, RULE_TIME_LIMIT

PER_STOP_S = 0.005
"""Seconds of allowance per stop left out (shortage.binding_rule takes about 2-5 ms a stop on a
300-stop day of 8 routes), on top of the base allowance, up to a quarter of the time limit."""


def reason_seconds(time_limit_s: float, left_out: int) -> float:
    """The reason step's allowance in seconds: a tenth of the time limit (0.3 s to 2 s), plus
    PER_STOP_S per stop left out up to a quarter of the time limit (the search had the rest)."""
    return min(2.0, max(0.3, 0.1 * time_limit_s)) + min(PER_STOP_S * left_out, 0.25 * time_limit_s)


Proofs = dict[tuple[int, frozenset[str]], str | None]
"""(priority, compartments) -> a proven shortage or None, computed once per solve."""


def priority_proof(cache: Proofs, problem: Problem, screening: Screening, k: int) -> str | None:
    """``proven_shortage`` for stop position ``k``'s priority and its own compartments, cached."""
    stop = problem.stops[k]
    key = (stop.priority, frozenset(stop.compartments()))
    if key not in cache:
        cache[key] = proven_shortage(problem, screening.active, stop.priority, key[1])
    return cache[key]


def left_out_reasons(problem: Problem, screening: Screening, plan: dict[int, tuple[int, ...]],
                     positions: Iterable[int]) -> dict[int, Unassigned]:
    """Stop position -> why it is not in ``plan`` (vehicle position -> its route's nodes), for stops
    that fit a vehicle alone (screened in) but were left out. ``problem`` is prepared (prepare.py).
    Takes at most about ``reason_seconds`` (a stop's nearest route is tried whole even past it)."""
    ks = list(positions)
    allowance = reason_seconds(problem.options.time_limit_s, len(ks))
    deadline = time.monotonic() + allowance
    hard = deadline + allowance  # nearest routes past the allowance: at most as long again
    found: dict[int, Binding | None | OutOfBudget] = {}
    for k in ks:
        try:
            found[k] = binding_rule(problem, screening.allowed.get(k, ()), plan, k + 1, deadline, hard_deadline=hard)
        except OutOfBudget as exc:
            found[k] = exc
    proofs: Proofs = {}
    reasons: dict[int, Unassigned] = {}
    for i, k in enumerate(ks):
        # a conflict proof may take what is left of the allowance shared by the stops still to do
        share = max(0.0, deadline - time.monotonic()) / (len(ks) - i)
        reasons[k] = _reason(problem, screening, k, found[k], priority_proof(proofs, problem, screening, k),
                             time.monotonic() + share)
    return reasons


def _reason(problem: Problem, screening: Screening, k: int, binding: Binding | None | OutOfBudget,
            proof: str | None, deadline: float) -> Unassigned:
    stop = problem.stops[k]
    level = Priority(stop.priority).name.lower()
    if binding is None:
        return Unassigned(stop.id, "the search ran out of time: the stop still fits the plan; a longer time "
                          f"limit would serve it ({level})", RULE_TIME_LIMIT)
    if isinstance(binding, OutOfBudget):  # not one route tried whole in the time for reasons
        return Unassigned(stop.id, "left out by the search; there was no time to check why (no route of the plan "
                          f"was tried): a longer time limit would serve it or tell why ({level})",
                          RULE_NOT_CHECKED)
    why = binding.failure
    named = SHORT_OF.get(why.rule, why.rule)
    if binding.complete and proof:  # incomplete: it may still fit a route not tried, so no proof is its cause
        return Unassigned(stop.id, f"{proof}; it fits a vehicle on its own ({level})", RULE_SHORTAGE)
    if not binding.complete:
        untried = binding.routes - binding.tried
        return Unassigned(stop.id, f"no route tried has room for it: {named} keeps it off the {binding.tried} "
                          f"{'route' if binding.tried == 1 else 'routes'} nearest it ({binding.vehicle_id}: "
                          f"{why.message}); {untried} farther {'route was' if untried == 1 else 'routes were'} "
                          f"not tried in the time for reasons ({level})", why.rule)
    apart = conflict_shortage(problem, screening.allowed, screening.active, k, deadline)
    if apart is not None:
        ids, vehicles, example, rule = apart
        apart_by = f"{SHORT_OF.get(rule.rule, rule.rule)}: {example + ': ' if example else ''}{rule.message}"
        return Unassigned(stop.id, f"not enough vehicles: no two of these {len(ids)} stops of this priority or "
                          f"higher can share a route ({', '.join(ids[:6])}{', ...' if len(ids) > 6 else ''}; "
                          f"{apart_by}), and only {vehicles} {'vehicle' if vehicles == 1 else 'vehicles'} can "
                          f"serve them; it fits a vehicle on its own ({level})", RULE_SHORTAGE)
    return Unassigned(stop.id, f"no route of this plan has room for it: {named} keeps it off every route "
                      f"({binding.vehicle_id}: {why.message}); it fits a vehicle on its own, so one more vehicle "
                      f"would serve it ({level})", why.rule)
