"""What the solver hands back: routes with a timed schedule, unassigned stops with reasons, stats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Visit:
    """One stop on a route: when the vehicle gets there, starts and ends service, and its load after."""

    stop_id: str
    node: int
    arrival: int
    start: int
    departure: int
    load_after: Mapping[str, int]


@dataclass(frozen=True)
class Route:
    """A vehicle's trip from the depot through its visits back to the depot."""

    vehicle_id: str
    visits: tuple[Visit, ...]
    start: int  # leaves the depot
    end: int  # back at the depot
    load_out: Mapping[str, int]  # on board when leaving the depot
    distance: int  # integer distance units
    distance_real: float  # reporting units at full precision
    cost: int  # fixed cost + distance cost, in cost units
    break_start: int | None = None  # None: no break owed, or taken at the depot after this route
    break_note: str = ""  # which break rule applied, in English (solver.BREAK_NOTES); "" without a break
    break_code: str = ""  # the same rule's stable code (solver.BREAK_CODES), for labels in any language

    @property
    def duration(self) -> int:
        """Time from leaving the depot to coming back."""
        return self.end - self.start

    @property
    def stop_ids(self) -> tuple[str, ...]:
        """Stop ids in visiting order."""
        return tuple(v.stop_id for v in self.visits)


@dataclass(frozen=True)
class Unassigned:
    """A stop left out of the plan and why."""

    stop_id: str
    reason: str
    rule: str = ""  # machine-readable cause: one of timing.RULE_* ("break", "lock", "time_limit", ...)


@dataclass(frozen=True)
class SolveStats:
    """How the search went, for logs and the dispatcher's progress bar."""

    status: str  # "feasible", "partial" (some stops dropped), "no_solution"
    config: str
    solve_seconds: float
    first_solution_seconds: float | None
    workers: int
    progress: tuple[tuple[float, int], ...] = ()  # (seconds since start, best objective so far)
    regions: int = 1
    phases: tuple[str, ...] = ()
    winner: str = ""  # which search variant produced the returned plan
    errors: tuple[str, ...] = ()  # searches that failed, and why
    complete_seconds: float | None = None  # first plan serving every stop that can be served alone


@dataclass(frozen=True)
class Solution:
    """A plan: routes (non-empty ones only), unassigned stops, objective and totals."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    objective: int
    stats: SolveStats
    distance_scale: float = 1.0
    extra: Mapping[str, float] = field(default_factory=dict)
    vehicles_out: Mapping[str, str] = field(default_factory=dict)  # vehicle id -> why it could not work

    @property
    def distance(self) -> int:
        """Total distance in integer units."""
        return sum(r.distance for r in self.routes)

    @property
    def distance_real(self) -> float:
        """Total distance in reporting units at full precision."""
        return sum(r.distance_real for r in self.routes)

    @property
    def duration(self) -> int:
        """Sum of route durations."""
        return sum(r.duration for r in self.routes)

    @property
    def cost(self) -> int:
        """Sum of route costs (no drop penalties)."""
        return sum(r.cost for r in self.routes)

    @property
    def vehicles_used(self) -> int:
        """Number of non-empty routes."""
        return len(self.routes)

    def routes_by_vehicle(self) -> dict[str, tuple[str, ...]]:
        """Vehicle id -> stop ids, the shape used for warm starts and the checker."""
        return {r.vehicle_id: r.stop_ids for r in self.routes}
