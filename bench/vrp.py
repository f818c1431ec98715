"""Benchmark the dispatch routing core on Solomon / CVRPLIB instances against best-known solutions.

    python -m bench.vrp --instances /work/shared/data/vrp/solomon \\
        --bks /work/shared/data/vrp/solomon/bks_distance_only.csv --time-limit 10 --config both --peers
    python -m bench.vrp --instances /work/shared/data/vrp/homberger \\
        --bks /work/shared/data/vrp/homberger/bks.csv --time-limit 60 --peers   # Gehring-Homberger

Every plan goes through the same model-building code the service uses and is verified by the
independent checker. Distances for the gap follow the BKS file's convention (DIMACS: arcs truncated
to 0.1; hierarchical SINTEF: double precision; CVRPLIB: arcs rounded to integers); the real-valued
(double precision) distance is printed as well. PyVRP and VROOM (``--peers``) get the same integer
matrices and the same time limit in the same run; they are optional extras, imported lazily.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.dispatch.routing.checker import check
from services.dispatch.routing.formats import Convention, Objective, read_instance
from services.dispatch.routing.problem import Options, Problem
from services.dispatch.routing.search import CONFIGS
from services.dispatch.routing.solver import solve

_PEER_HORIZON = 2**31 - 1  # "no time limit" as the peers' 32-bit-safe time fields can hold it


@dataclass
class Bks:
    """Best-known vehicles and distance of one instance."""

    vehicles: int
    distance: float


@dataclass
class Outcome:
    """One solver's result on one instance."""

    solver: str
    vehicles: int | None = None
    distance: float | None = None  # in the BKS convention
    distance_real: float | None = None
    seconds: float = 0.0
    dropped: int = 0
    verified: bool | None = None
    violations: list[str] = field(default_factory=list)

    def gap(self, bks: Bks) -> float | None:
        """Percent above the best-known distance."""
        return None if self.distance is None else 100.0 * (self.distance / bks.distance - 1.0)


def read_bks(path: Path) -> dict[str, Bks]:
    """instance -> Bks from a CSV with at least instance, vehicles, distance columns."""
    with path.open(newline="") as fh:
        return {row["instance"].strip(): Bks(int(row["vehicles"]), float(row["distance"])) for row in csv.DictReader(fh)}


def guess_convention(bks_path: Path, instance: Path) -> Convention:
    """Distance convention of the BKS file (read from its name and source column)."""
    if instance.suffix.lower() == ".vrp":
        return "rounded"
    text = bks_path.read_text().lower()
    return "dimacs" if "distance_only" in bks_path.name or "truncated" in text else "exact"


def run_ours(problem: Problem) -> Outcome:
    """Solve with the service's solver and verify with the checker."""
    t0 = time.monotonic()
    solution = solve(problem)
    seconds = time.monotonic() - t0
    if not solution.routes and solution.unassigned:
        return Outcome(problem.options.config, seconds=seconds, dropped=len(solution.unassigned))
    report = check(problem, solution)
    return Outcome(
        problem.options.config, solution.vehicles_used, report.distance / problem.distance_scale,
        report.distance_real, seconds, len(solution.unassigned), report.ok, report.messages()[:3],
    )


def run_pyvrp(problem: Problem, time_limit: float, seed: int = 0) -> Outcome:
    """PyVRP on the same integer matrices (fixed vehicle cost carried over for the hierarchical case)."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    t0 = time.monotonic()
    m = Model()
    xy = problem.coords
    locs = [m.add_location(float(xy[i, 0]) if xy is not None else 0.0, float(xy[i, 1]) if xy is not None else 0.0)
            for i in range(problem.num_nodes)]
    v0 = problem.vehicles[0]
    horizon = min(v0.shift_end, _PEER_HORIZON)
    depot = m.add_depot(locs[0], tw_early=v0.shift_start, tw_late=horizon)
    comp = problem.compartments[0]
    m.add_vehicle_type(num_available=len(problem.vehicles), capacity=v0.cap(comp), start_depot=depot,
                       end_depot=depot, fixed_cost=v0.fixed_cost, tw_early=v0.shift_start, tw_late=horizon)
    for k, s in enumerate(problem.stops):
        w = s.window
        m.add_client(locs[k + 1], delivery=s.deliver.get(comp, 0), service_duration=s.service,
                     tw_early=w.start if w else 0, tw_late=w.end if w else horizon)
    dist, dur = problem.distance.tolist(), problem.duration.tolist()
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            m.add_edge(a, b, distance=dist[i][j], duration=dur[i][j])
    result = m.solve(stop=MaxRuntime(time_limit), seed=seed, display=False)
    best = result.best
    seconds = time.monotonic() - t0
    if not best.is_feasible():
        return Outcome("pyvrp", seconds=seconds, dropped=len(problem.stops))
    return Outcome("pyvrp", best.num_routes(), best.distance() / problem.distance_scale, None, seconds)


def run_vroom(problem: Problem, time_limit: float, threads: int) -> Outcome:
    """VROOM on the same integer matrices, same time limit and thread count."""
    from datetime import timedelta

    import vroom

    t0 = time.monotonic()
    inp = vroom.Input()
    inp.set_durations_matrix("car", problem.duration.tolist())
    inp.set_costs_matrix("car", problem.distance.tolist())
    comp = problem.compartments[0]
    for k, v in enumerate(problem.vehicles):
        inp.add_vehicle(vroom.Vehicle(k + 1, start=0, end=0, capacity=[v.cap(comp)],
                                      time_window=vroom.TimeWindow(v.shift_start, min(v.shift_end, _PEER_HORIZON)),
                                      costs=vroom.VehicleCosts(fixed=v.fixed_cost)))
    for k, s in enumerate(problem.stops):
        tws = [vroom.TimeWindow(s.window.start, s.window.end)] if s.window else []
        inp.add_job(vroom.Job(k + 1, location=k + 1, default_service=s.service,
                              delivery=vroom.Amount([s.deliver.get(comp, 0)]), time_windows=tws))
    sol = inp.solve(exploration_level=5, nb_threads=threads, timeout=timedelta(seconds=time_limit))
    seconds = time.monotonic() - t0
    steps = sol.routes
    dist = 0
    vehicles = 0
    for _vid, group in steps.groupby("vehicle_id"):
        locs = [int(x) for x in group["location_index"].tolist()]
        if len(locs) > 2:
            vehicles += 1
        dist += sum(int(problem.distance[a, b]) for a, b in zip(locs, locs[1:], strict=False))
    dropped = len(sol.unassigned) if hasattr(sol, "unassigned") and sol.unassigned is not None else 0
    return Outcome("vroom", vehicles, dist / problem.distance_scale, None, seconds, dropped)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", required=True, type=Path)
    ap.add_argument("--bks", required=True, type=Path)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--config", default="tuned", help="textbook | tuned | gls | both | all | comma list")
    ap.add_argument("--peers", action="store_true", help="also run PyVRP and VROOM")
    ap.add_argument("--only", default="", help="comma-separated instance names")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--objective", default="auto", choices=["auto", "distance", "hierarchical"])
    ap.add_argument("--convention", default="auto", choices=["auto", "exact", "dimacs", "rounded"])
    ap.add_argument("--vehicle-bks", type=Path, default=None,
                    help="CSV whose vehicles count as best-known fleet size (default: bks.csv beside --bks)")
    ap.add_argument("--json", type=Path, default=None, help="write all outcomes here")
    ap.add_argument("--region-max-stops", type=int, default=None,
                    help="Options.region_max_stops (default: the service's); smaller splits instances into sectors")
    args = ap.parse_args(argv)

    bks = read_bks(args.bks)
    vehicle_csv = args.vehicle_bks or (args.bks.parent / "bks.csv")
    fleet_bks = read_bks(vehicle_csv) if vehicle_csv.exists() else bks
    configs = _configs(args.config)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    paths = sorted(p for p in args.instances.iterdir() if p.suffix.lower() in {".txt", ".vrp"})
    paths = [p for p in paths if p.stem in bks and (not only or p.stem in only)]
    if not paths:
        print("no instances matched the BKS file", file=sys.stderr)
        return 2
    solvers = configs + (["pyvrp", "vroom"] if args.peers else [])
    print(f"# {len(paths)} instances, {args.time_limit:g} s each, workers={args.workers}, BKS={args.bks.name}, "
          f"fleet BKS={vehicle_csv.name if vehicle_csv.exists() else args.bks.name}")
    header = f"{'instance':10s} {'solver':9s} {'veh':>4s} {'bksV':>4s} {'distance':>10s} {'conv.dist':>10s} " \
             f"{'bks':>9s} {'gap%':>7s} {'time':>6s} {'chk':>4s}"
    print(header)
    results: dict[str, dict[str, Outcome]] = {}
    for path in paths:
        name = path.stem
        convention: Convention = args.convention if args.convention != "auto" else guess_convention(args.bks, path)
        objective: Objective = (args.objective if args.objective != "auto"
                                else "distance" if convention != "exact" else "hierarchical")
        results[name] = {}
        for solver in solvers:
            opts = Options(time_limit_s=args.time_limit, workers=args.workers,
                           config=solver if solver in CONFIGS else "tuned")
            if args.region_max_stops is not None:
                opts = replace(opts, region_max_stops=args.region_max_stops)
            problem = read_instance(path, convention=convention, objective=objective, options=opts)
            if solver == "pyvrp":
                out = run_pyvrp(problem, args.time_limit)
            elif solver == "vroom":
                out = run_vroom(problem, args.time_limit, args.workers)
            else:
                out = run_ours(problem)
            results[name][solver] = out
            print(_row(name, out, bks[name], fleet_bks.get(name)), flush=True)
    print()
    for solver in solvers:
        _summary(solver, results, bks, fleet_bks)
    primary = "tuned" if "tuned" in configs else solvers[0]
    gaps = [g for name in results if (g := results[name][primary].gap(bks[name])) is not None]
    if args.json:
        args.json.write_text(json.dumps({n: {s: o.__dict__ for s, o in r.items()} for n, r in results.items()},
                                        indent=1))
    if gaps:
        print(f"mean gap {statistics.fmean(gaps):.2f}% over {len(gaps)} instances (max {max(gaps):.2f}%)")
    else:
        print("mean gap n/a over 0 instances (max n/a)")
    return 0


def _configs(spec: str) -> list[str]:
    if spec == "both":
        return ["textbook", "tuned"]
    if spec == "all":
        return ["textbook", "gls", "tuned"]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown config(s): {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    return names


def _row(name: str, out: Outcome, bks: Bks, fleet: Bks | None) -> str:
    gap = out.gap(bks)
    chk = "-" if out.verified is None else ("ok" if out.verified else "FAIL")
    veh = "-" if out.vehicles is None else str(out.vehicles)
    dist = "no plan" if out.distance is None else f"{out.distance:10.2f}"
    real = "" if out.distance_real is None else f"{out.distance_real:10.2f}"
    line = (f"{name:10s} {out.solver:9s} {veh:>4s} {fleet.vehicles if fleet else bks.vehicles:>4d} {real:>10s} "
            f"{dist:>10s} {bks.distance:9.2f} {'' if gap is None else f'{gap:7.2f}':>7s} {out.seconds:6.1f} {chk:>4s}")
    if out.dropped:
        line += f"  dropped={out.dropped}"
    if out.violations:
        line += "  " + "; ".join(out.violations)
    return line


def _summary(solver: str, results: dict[str, dict[str, Outcome]], bks: dict[str, Bks],
             fleet: dict[str, Bks]) -> None:
    outs = {n: r[solver] for n, r in results.items()}
    solved = {n: o for n, o in outs.items() if o.distance is not None}
    gaps = [o.gap(bks[n]) for n, o in solved.items()]
    gaps_f = [g for g in gaps if g is not None]
    dropped = sum(1 for o in outs.values() if o.dropped or o.distance is None)
    with_fleet = [(o.vehicles, fleet.get(n, bks[n]).vehicles) for n, o in solved.items() if o.vehicles is not None]
    equal = sum(1 for v, b in with_fleet if v == b)
    within = all(v <= b + 1 for v, b in with_fleet) and len(with_fleet) == len(outs)
    within2 = all(v <= b + 2 for v, b in with_fleet) and len(with_fleet) == len(outs)
    verified = sum(1 for o in outs.values() if o.verified)
    checked = sum(1 for o in outs.values() if o.verified is not None)
    print(f"[{solver}] stops served on every instance: {'yes' if dropped == 0 else 'no'} "
          f"({dropped} instance(s) with dropped stops or no plan)")
    if with_fleet:
        print(f"[{solver}] vehicles equal to BKS on {100.0 * equal / len(outs):.0f}% of instances "
              f"({equal}/{len(outs)}); vehicles <= BKS+1 everywhere: {'yes' if within else 'no'}; "
              f"<= BKS+2 everywhere: {'yes' if within2 else 'no'}; "
              f"mean vehicles {statistics.fmean(v for v, _ in with_fleet):.2f} vs BKS "
              f"{statistics.fmean(b for _, b in with_fleet):.2f}")
    if checked:
        print(f"[{solver}] plans verified feasible by the checker: {verified}/{checked}")
    if gaps_f:
        print(f"[{solver}] mean gap {statistics.fmean(gaps_f):.2f}% over {len(gaps_f)} instances "
              f"(max {max(gaps_f):.2f}%), mean time {statistics.fmean(o.seconds for o in solved.values()):.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
