"""Search configurations: the textbook OR-Tools setup and the tuned hybrid, as plain data.

* ``textbook``: Python callbacks, every stop mandatory, PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, one
  process. What most tutorials do; kept so the benchmark can show each gain.
* ``gls``: the tuned model (C++ transit matrices, droppable stops, insertion-based first solution with
  fallbacks) but still OR-Tools' own guided local search, one process.
* ``tuned``: the tuned model driven by ruin-and-recreate (string removals around a random stop, greedy
  re-insertion with blinks, now and then seeding an idle vehicle, simulated-annealing acceptance) where
  OR-Tools' local search polishes every candidate that a typical polish could make acceptable (the
  typical gain is learnt while searching); a route-elimination phase for the fewest-vehicles
  objective (absence-guided ruin and recreate plus insertion by ejection, kept going while routes
  go); one search per worker process with different seeds and first-solution strategies, best
  plan kept. Big days start from our own insertion instead of OR-Tools' construction heuristics.

OR-Tools 9.15's own iterated local search parameters have no effect through pywrapcp, and its
``ls_operator_neighbors_ratio`` < 1 stalls the local search on these models; neither is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from .problem import CONFIG_TEXTBOOK, CONFIG_TUNED

FSS = routing_enums_pb2.FirstSolutionStrategy
LSM = routing_enums_pb2.LocalSearchMetaheuristic
BOOL_TRUE, BOOL_FALSE = 3, 2  # OptionalBoolean values

# Operators that never fire on our models (no pickup-delivery pairs, alternatives or visit types) or
# that cost far more than they return inside a short polish step.
LEAN_OFF: tuple[str, ...] = (
    "relocate_pair", "light_relocate_pair", "exchange_pair", "relocate_subtrip", "exchange_subtrip",
    "shortest_path_swap_active", "shortest_path_two_opt", "global_cheapest_insertion_visit_types_lns",
    "local_cheapest_insertion_visit_types_lns", "make_chain_inactive", "swap_active_chain",
    "global_cheapest_insertion_path_lns", "local_cheapest_insertion_path_lns",
    "relocate_path_global_cheapest_insertion_insert_unperformed", "relocate_expensive_chain",
    "make_inactive", "swap_active", "lin_kernighan",
)


@dataclass(frozen=True)
class SearchConfig:
    """How one search process runs."""

    name: str
    python_callbacks: bool = False
    droppable: bool = True
    first_solutions: tuple[str, ...] = ("PARALLEL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_INSERTION", "SAVINGS")
    metaheuristic: str = "lns"  # "lns" or an OR-Tools LocalSearchMetaheuristic name
    gls_lambda: float = 0.1
    operators_off: tuple[str, ...] = LEAN_OFF
    use_workers: bool = True
    # ruin and recreate
    ls_time_s: float = 0.1  # cap on one OR-Tools polish
    remove_avg: int = 10  # customers removed per ruin, on average
    max_string: int = 10  # longest string removed from one route
    temp_start: float = 0.05  # x mean arc cost
    temp_end: float = 0.001
    blink: float = 0.01
    polish_factor: float = 1.02  # polish candidates up to 2% above the acceptance threshold (at first)
    polish_quantile: float = 0.9  # then: up to what 9 polishes in 10 gained recently
    open_route_rate: float = 0.1  # ruins that also seed an idle vehicle, so the fleet can grow
    restart_after: int = 0  # iterations without a new best before returning to the best (0 = never)
    elimination_share: float = 0.2  # of the time, for removing routes when minimising vehicles
    ejections: int = 2  # elimination steps: left-out stops put in by ejecting an easier stop (ejection.py)
    ejection_neighbours: int = 30  # ejection candidates: served stops among this many nearest
    elimination_extend: float = 0.25  # after each route removed, keep eliminating this share of the time more
    elimination_cap: float = 0.5  # ... but never past this share of the time
    elimination_tries: int = 2000  # tries in a row without fewer stops left out before the next route is tried
    construct_above: int = 250  # above this many stops, build the first plan by our own insertion
    # above this many nodes: accept steps in Python, polish the best now and then (lns.python_path)
    python_accept_above: int = 250
    big_polish_share: float = 0.25  # of the time, at most, for those polishes
    polish_max_nodes: int = 1200  # above this, no OR-Tools polish (building its model alone takes too long)
    near_routes: int = 30  # big days: insert into routes serving one of this many nearest stops first


CONFIGS: dict[str, SearchConfig] = {
    CONFIG_TEXTBOOK: SearchConfig(
        name=CONFIG_TEXTBOOK, python_callbacks=True, droppable=False, first_solutions=("PATH_CHEAPEST_ARC",),
        metaheuristic="GUIDED_LOCAL_SEARCH", operators_off=(), use_workers=False,
    ),
    "gls": SearchConfig(name="gls", metaheuristic="GUIDED_LOCAL_SEARCH", operators_off=(), use_workers=False),
    CONFIG_TUNED: SearchConfig(name=CONFIG_TUNED),
}


def config_named(name: str) -> SearchConfig:
    """Look up a configuration by name (KeyError lists the known ones)."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown search config {name!r}; known: {', '.join(CONFIGS)}") from None


def first_solution_params(strategy: str, time_limit_s: float, config: SearchConfig) -> object:
    """Parameters to build a first plan and take it to a local optimum (no metaheuristic)."""
    p = _base(time_limit_s, config)
    p.first_solution_strategy = getattr(FSS, strategy)
    p.local_search_metaheuristic = LSM.GREEDY_DESCENT
    return p


def metaheuristic_params(strategy: str, time_limit_s: float, config: SearchConfig) -> object:
    """Parameters for a whole OR-Tools metaheuristic run (textbook / gls configurations)."""
    p = _base(time_limit_s, config)
    p.first_solution_strategy = getattr(FSS, strategy)
    p.local_search_metaheuristic = getattr(LSM, config.metaheuristic)
    p.guided_local_search_lambda_coefficient = config.gls_lambda
    return p


def polish_params(time_limit_s: float, config: SearchConfig) -> object:
    """Greedy descent from a given plan with the lean operator set (the ruin-and-recreate polish)."""
    p = _base(time_limit_s, config)
    p.local_search_metaheuristic = LSM.GREEDY_DESCENT
    return p


def _base(time_limit_s: float, config: SearchConfig) -> pywrapcp.RoutingSearchParameters:
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    for op in config.operators_off:
        setattr(p.local_search_operators, f"use_{op}", BOOL_FALSE)
    return p
