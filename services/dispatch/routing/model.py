"""Build the OR-Tools routing model for a Problem and read plans in and out of it.

One model-building path serves benchmark instances and county problems alike: compartments become
capacity dimensions, windows/shifts/breaks/max duration live on one time dimension, and costs are
per-vehicle arc matrices plus fixed costs. Matrices are registered as C++ transit matrices so the
search never calls back into Python (the "textbook" setup keeps Python callbacks for comparison).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp

from .formats import UNLIMITED
from .problem import SPECIMEN, Problem
from .screen import Screening

SolutionHook = Callable[[int], None]  # called with the objective of each new solution


@dataclass(frozen=True)
class RawRoute:
    """A route as read from the solver: problem vehicle, problem nodes and the solver's times."""

    vehicle: int
    nodes: tuple[int, ...]
    starts: tuple[int, ...] | None  # service start per node, None without a time dimension
    depart: int | None
    back: int | None
    break_start: int | None


@dataclass(frozen=True)
class RawPlan:
    """All non-empty routes of one solver assignment with its objective."""

    routes: tuple[RawRoute, ...]
    objective: int


@dataclass(frozen=True)
class BuildSettings:
    """Model-shaping switches that differ between phases and configurations."""

    vehicles: tuple[int, ...]  # problem vehicle positions in this model
    droppable: bool = True
    fixed_costs: bool = True
    python_callbacks: bool = False
    # Breaks as OR-Tools break intervals. The ruin-and-recreate search keeps them out of the model
    # and checks them itself (insertion.route_ok, timing.schedule): restoring a plan with break
    # intervals together with span or ride-time limits fails or times out in OR-Tools 9.15 on
    # county days (350 stops: every restore failed within 0.5 s; break-only or no-break restores
    # succeed), which left whole days unplanned.
    model_breaks: bool = True


def arc_costs(dist: np.ndarray, cost_per_km: int, divisor: int = 1) -> np.ndarray:
    """Integer arc costs of one vehicle class: distance x cost_per_km / 1000 / divisor, rounded."""
    if cost_per_km == 1000 and divisor == 1:
        return dist
    return np.rint(dist.astype(np.float64) * (cost_per_km / 1000.0 / divisor)).astype(np.int64)


def needs_time_dimension(problem: Problem) -> bool:
    """False when no window, shift, break, duration or ride limit could ever bind (plain CVRP)."""
    if any(s.window is not None for s in problem.stops) or problem.options.specimen_max_ride_s is not None:
        return True
    return any(
        v.rest_break is not None or v.max_duration is not None or v.shift_start != 0 or v.shift_end < UNLIMITED
        for v in problem.vehicles
    )


class RoutingBuild:
    """An OR-Tools RoutingModel built from a Problem, with maps between model and problem indices."""

    def __init__(self, problem: Problem, screening: Screening, settings: BuildSettings, lazy: bool = False) -> None:
        self.problem = problem
        self.screening = screening
        self.settings = settings
        self.nodes = [0] + [k + 1 for k in screening.active]  # model node -> problem node
        self.model_node_of = {p: m for m, p in enumerate(self.nodes)}
        self.vehicles = list(settings.vehicles)  # model vehicle -> problem vehicle
        self.model_vehicle_of = {p: m for m, p in enumerate(self.vehicles)}
        self._keep: list[object] = []  # Python callbacks must outlive the model
        self._hooks: list[Callable[[], None]] = []
        self.closed = False
        idx = np.array(self.nodes, dtype=np.int64)
        self.dist = problem.distance[np.ix_(idx, idx)]
        self.travel = problem.duration[np.ix_(idx, idx)]
        self.service = np.array([0] + [problem.stops[k].service for k in screening.active], dtype=np.int64)
        self.has_time = needs_time_dimension(problem)
        self.time_dim: pywrapcp.RoutingDimension | None = None
        self.breaks: dict[int, pywrapcp.IntervalVar] = {}
        self.built = False
        if not lazy:
            self.ensure()

    def ensure(self) -> None:
        """Build the OR-Tools model now (a lazy build defers it until a search step needs OR-Tools:
        on big days the search may never need it, and building it takes seconds)."""
        if self.built:
            return
        self.built = True
        self.manager = pywrapcp.RoutingIndexManager(len(self.nodes), len(self.vehicles), 0)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.solver = self.routing.solver()
        self._add_costs()
        self._add_capacities()
        if self.has_time:
            self._add_time()
        self._add_distance_limit()
        self._add_allowed_vehicles_and_drops()
        self._add_prefixes()
        for hook in self._hooks:
            self.routing.AddAtSolutionCallback(hook)

    # --- registration helpers --------------------------------------------------------------

    def _matrix(self, values: np.ndarray) -> int:
        if self.settings.python_callbacks:
            rows = values.tolist()
            manager = self.manager

            def callback(i: int, j: int) -> int:
                return int(rows[manager.IndexToNode(i)][manager.IndexToNode(j)])

            self._keep.append(callback)
            return int(self.routing.RegisterTransitCallback(callback))
        return int(self.routing.RegisterTransitMatrix(values.tolist()))

    def _vector(self, values: Sequence[int]) -> int:
        if self.settings.python_callbacks:
            vals = list(values)
            manager = self.manager

            def callback(i: int) -> int:
                return int(vals[manager.IndexToNode(i)])

            self._keep.append(callback)
            return int(self.routing.RegisterUnaryTransitCallback(callback))
        return int(self.routing.RegisterUnaryTransitVector([int(x) for x in values]))

    # --- model parts ---------------------------------------------------------------------------

    def _add_costs(self) -> None:
        evaluators: dict[int, int] = {}
        for m, p in enumerate(self.vehicles):
            vehicle = self.problem.vehicles[p]
            cpk = vehicle.cost_per_km
            if cpk not in evaluators:
                evaluators[cpk] = self._matrix(arc_costs(self.dist, cpk, self.screening.cost_divisor))
            self.routing.SetArcCostEvaluatorOfVehicle(evaluators[cpk], m)
            fixed = int(vehicle.fixed_cost) // self.screening.cost_divisor
            if self.settings.fixed_costs and fixed:
                self.routing.SetFixedCostOfVehicle(fixed, m)

    def _add_capacities(self) -> None:
        stops = [self.problem.stops[k] for k in self.screening.active]
        for comp in self.problem.compartments:
            deliver = [0] + [s.deliver.get(comp, 0) for s in stops]
            pickup = [0] + [s.pickup.get(comp, 0) for s in stops]
            if not any(deliver) and not any(pickup):
                continue
            caps = [int(self.problem.vehicles[p].cap(comp)) for p in self.vehicles]
            if not any(pickup) or not any(deliver):
                # one-way flows: the load peaks at the depot (deliveries) or at the end (pickups)
                flow = deliver if any(deliver) else pickup
                self.routing.AddDimensionWithVehicleCapacity(self._vector(flow), 0, caps, True, f"cap_{comp}")
                continue
            # Simultaneous pickup and delivery: "out_c" counts what the route delivers; "load_c"
            # starts at that amount and moves by pickup - delivery, staying within [0, capacity].
            self.routing.AddDimensionWithVehicleCapacity(self._vector(deliver), 0, caps, True, f"out_{comp}")
            net = [p - d for p, d in zip(pickup, deliver, strict=True)]
            self.routing.AddDimensionWithVehicleCapacity(self._vector(net), 0, caps, False, f"load_{comp}")
            out = self.routing.GetDimensionOrDie(f"out_{comp}")
            load = self.routing.GetDimensionOrDie(f"load_{comp}")
            for m in range(len(self.vehicles)):
                self.solver.Add(load.CumulVar(self.routing.Start(m)) == out.CumulVar(self.routing.End(m)))

    def _add_time(self) -> None:
        problem, routing = self.problem, self.routing
        horizon = problem.horizon()
        transit = self.travel + self.service[:, None]
        callback = self._matrix(transit)
        routing.AddDimension(callback, horizon, horizon, False, "time")
        dim = routing.GetDimensionOrDie("time")
        self.time_dim = dim
        for m, k in enumerate(self.screening.active, start=1):
            periods = problem.stops[k].windows
            if periods:
                cumul = dim.CumulVar(self.manager.NodeToIndex(m))
                cumul.SetRange(int(periods[0].start), int(periods[-1].end))
                for a, b in zip(periods, periods[1:], strict=False):  # closed between two periods
                    cumul.RemoveInterval(int(a.end) + 1, int(b.start) - 1)
        visit = [int(self.service[self.manager.IndexToNode(i)]) for i in range(routing.Size())]
        for m, p in enumerate(self.vehicles):
            vehicle = problem.vehicles[p]
            start, end = routing.Start(m), routing.End(m)
            dim.CumulVar(start).SetRange(vehicle.shift_start, vehicle.shift_end)
            dim.CumulVar(end).SetRange(vehicle.shift_start, vehicle.shift_end)
            if vehicle.max_duration is not None:
                dim.SetSpanUpperBoundForVehicle(int(vehicle.max_duration), m)
            brk = vehicle.rest_break  # the owed break, already inside the working time (prepare.py)
            lo = hi = 0
            if brk is not None:
                lo = max(brk.window_start, vehicle.shift_start)
                hi = min(brk.window_end, vehicle.shift_end) - brk.duration
            if brk is not None and hi >= lo and self.settings.model_breaks:
                interval = self.solver.FixedDurationIntervalVar(lo, hi, brk.duration, False, f"break_{m}")
                dim.SetBreakIntervalsOfVehicle([interval], m, visit)
                self.breaks[m] = interval
            # compact schedules: come back as early as possible, then leave as late as possible
            routing.AddVariableMinimizedByFinalizer(dim.CumulVar(end))
            routing.AddVariableMaximizedByFinalizer(dim.CumulVar(start))
        limit = problem.options.specimen_max_ride_s
        if limit is not None:
            self._add_specimen_ride(dim, int(limit))

    def _add_specimen_ride(self, dim: pywrapcp.RoutingDimension, limit: int) -> None:
        # ride = (time back at the depot of whichever vehicle serves the stop) - (service start);
        # index 0 of the element array stands for "not served", where the constraint is void.
        zero = self.solver.IntVar(0, 0, "not_served")
        ends = [zero] + [dim.CumulVar(self.routing.End(m)) for m in range(len(self.vehicles))]
        for m, k in enumerate(self.screening.active, start=1):
            if self.problem.stops[k].pickup.get(SPECIMEN, 0) <= 0:
                continue
            index = self.manager.NodeToIndex(m)
            which = (self.routing.VehicleVar(index) + 1).Var()
            back = self.solver.Element(ends, which)
            self.solver.Add(back - dim.CumulVar(index) <= limit)

    def _add_distance_limit(self) -> None:
        limits = [self.problem.vehicles[p].max_distance for p in self.vehicles]
        if all(x is None for x in limits):
            return
        cap = int(self.dist.sum()) + 1
        caps = [cap if x is None else int(x) for x in limits]
        self.routing.AddDimensionWithVehicleCapacity(self._matrix(self.dist), 0, caps, True, "distance")

    def _add_allowed_vehicles_and_drops(self) -> None:
        all_vehicles = set(self.vehicles)
        for m, k in enumerate(self.screening.active, start=1):
            index = self.manager.NodeToIndex(m)
            allowed = [int(self.model_vehicle_of[v]) for v in self.screening.allowed[k] if v in self.model_vehicle_of]
            if not allowed:
                # an empty allowed list would mean "any vehicle" to OR-Tools: switch the stop off
                self.routing.AddDisjunction([index], self.screening.model_penalty(k))
                self.routing.ActiveVar(index).SetValue(0)
                continue
            if set(self.screening.allowed[k]) & all_vehicles != all_vehicles:
                # SetAllowedVehiclesForIndex takes an absl::Span that this OR-Tools' SWIG layer cannot
                # build from a Python list; restricting the vehicle variable is equivalent (-1 = dropped).
                self.routing.VehicleVar(index).SetValues([-1, *allowed])
            if self.settings.droppable:
                self.routing.AddDisjunction([index], self.screening.model_penalty(k))

    def _add_prefixes(self) -> None:
        node = self.problem.stop_node()
        for vehicle_id, prefix in self.problem.locked_prefixes.items():
            p = self.problem.vehicle_index()[vehicle_id]
            if p not in self.model_vehicle_of or not prefix:
                continue
            m = self.model_vehicle_of[p]
            chain = [self.routing.Start(m)]
            for stop_id in prefix:
                if node[stop_id] not in self.model_node_of:
                    break  # screened out: the rest of the prefix cannot be honoured either
                chain.append(self.manager.NodeToIndex(self.model_node_of[node[stop_id]]))
            for a, b in zip(chain, chain[1:], strict=False):
                self.routing.NextVar(a).SetValue(b)

    # --- reading and writing plans -------------------------------------------------------------

    def assignment_from_routes(self, routes: Mapping[int, Sequence[int]]) -> pywrapcp.Assignment | None:
        """Solver assignment (next variables only) for problem vehicle -> problem nodes; None if invalid."""
        per_vehicle: list[list[int]] = [[] for _ in self.vehicles]
        used: set[int] = set()
        for p, nodes in routes.items():
            if p not in self.model_vehicle_of:
                continue
            m = self.model_vehicle_of[p]
            for n in nodes:
                if n in self.model_node_of and n not in used:
                    per_vehicle[m].append(self.manager.NodeToIndex(self.model_node_of[n]))
                    used.add(n)
        start = self.solver.Assignment()
        if not self.routing.RoutesToAssignment(per_vehicle, True, True, start):
            return None
        return start

    def read(self, assignment: pywrapcp.Assignment) -> RawPlan:
        """Non-empty routes of an assignment in problem indices, with the solver's times."""
        routing, manager, dim = self.routing, self.manager, self.time_dim
        routes: list[RawRoute] = []
        for m, p in enumerate(self.vehicles):
            index = assignment.Value(routing.NextVar(routing.Start(m)))
            nodes: list[int] = []
            starts: list[int] = []
            while not routing.IsEnd(index):
                nodes.append(self.nodes[manager.IndexToNode(index)])
                if dim is not None:
                    starts.append(assignment.Value(dim.CumulVar(index)))
                index = assignment.Value(routing.NextVar(index))
            if not nodes:
                continue
            depart = back = brk = None
            if dim is not None:
                depart = assignment.Value(dim.CumulVar(routing.Start(m)))
                back = assignment.Value(dim.CumulVar(routing.End(m)))
                if m in self.breaks:
                    brk = assignment.StartValue(self.breaks[m])
            routes.append(RawRoute(p, tuple(nodes), tuple(starts) if dim is not None else None, depart, back, brk))
        return RawPlan(tuple(routes), int(assignment.ObjectiveValue()))

    def unperformed(self, assignment: pywrapcp.Assignment) -> int:
        """How many model stops the assignment leaves out."""
        return sum(
            1
            for m in range(1, len(self.nodes))
            if assignment.Value(self.routing.NextVar(self.manager.NodeToIndex(m))) == self.manager.NodeToIndex(m)
        )

    def watch(self, on_solution: SolutionHook) -> None:
        """Report the objective of every solution the search accepts."""
        def hook() -> None:
            on_solution(int(self.routing.CostVar().Max()))

        self._keep.append(hook)
        self._hooks.append(hook)
        if self.built:
            self.routing.AddAtSolutionCallback(hook)

    def close(self, params: object) -> None:
        """Freeze the model (once); later solves may use other parameters."""
        self.ensure()
        if not self.closed:
            self.routing.CloseModelWithParameters(params)
            self.closed = True

    def solve(self, params: object, initial: Mapping[int, Sequence[int]] | None = None) -> pywrapcp.Assignment | None:
        """Run the search from the given routes (problem vehicle -> problem nodes; {} = nothing served),
        or from the first-solution strategy in ``params`` when ``initial`` is None."""
        self.close(params)
        if initial is not None:
            start = self.assignment_from_routes(initial)
            if start is None:
                return None
            return self.routing.SolveFromAssignmentWithParameters(start, params)
        return self.routing.SolveWithParameters(params)
