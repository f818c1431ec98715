"""A city's day through dispatch's real planning path (issue 8 §4): sites -> rounds -> plan -> worker.

    python -m bench.dispatch_city_day [--profile rizhao] [--vans 39,7] [--seconds 60]

A Rizhao-size county (55 townships, 1,583 village clinics, the project's own generator) is fed to a
fresh dispatch database as formulary.site.upserted events; the default fleet is sized per run; a
plan for next Monday is queued with POST /api/v1/plans's use case and solved by the plan worker's
own code (worker.run_plan). Prints, per fleet size: stops, stops served, when the board could show
a first plan, the best objective at the end, whether it ever rose, the vehicles and trips used, and
the bytes of a progress poll beside the full plan's. Nothing here is a timed assertion.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import timedelta

from services.dispatch import service, worker
from services.dispatch.app import SPEC
from services.dispatch.commands import PlanDay
from services.dispatch.fleet import seed_fleet_if_empty
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from shared.auth import Principal
from shared.config import Settings
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.migrate import upgrade
from shared.runtime import build_context, handle_event

ACTOR = Principal("bench", ("dispatcher",))


def run(profile: str, vans: int, seconds: float) -> dict[str, object]:
    """One city day with ``vans`` vans and a ``seconds`` time limit; the figures as a dict."""
    folder = tempfile.mkdtemp(prefix="city-day-")
    settings = Settings(service="dispatch", database_url=f"sqlite:///{folder}/dispatch.sqlite3", broker_url="memory://",
                        jwt_secret="bench-only-secret-not-for-production", port=0)  # fmt: skip
    ctx = build_context(SPEC, settings)
    upgrade(SPEC.migrations, ctx.engine)
    for site in generate_county(profile).sites:
        data = {**site_payload(site), "version": 1, "catalogue_version": 1}
        handle_event(SPEC, ctx, new_event("formulary.site.upserted", data, source="/countyhub/formulary"))
    with unit_of_work(ctx.factory) as session:
        seed_fleet_if_empty(session, vans)
    today = service.today()
    monday = today + timedelta(days=7 - today.weekday())
    plan = service.queue_plan(ctx, ACTOR, PlanDay(monday, seconds, 2))
    claim = worker.claim_plan(ctx, "bench")
    started = time.monotonic()
    worker.run_plan(ctx, plan["id"], "bench")
    wall = time.monotonic() - started
    solved = service.get_plan(ctx, plan["id"])
    poll = service.plan_progress(ctx, plan["id"])
    result = solved["result"] or {}
    objectives = [o for _, o in solved["progress"]]
    reasons = Counter(u["reason"].split(":")[0] for u in result.get("unassigned", []))
    ctx.engine.dispose()
    return {
        "vans": vans, "claimed": claim == plan["id"], "status": solved["status"], "stops": len(solved["request"]["stops"]),
        "served": (result.get("totals") or {}).get("stops_served", 0), "vehicles": (result.get("totals") or {}).get("vehicles"),
        "trips": (result.get("totals") or {}).get("trips"), "first_plan_s": solved["progress"][0][0] if solved["progress"] else None,
        "objective": objectives[-1] if objectives else None, "objective_rose": objectives != sorted(objectives, reverse=True),
        "cost_yuan": (result.get("totals") or {}).get("cost"), "wall_s": round(wall, 1),
        "poll_bytes": len(json.dumps(poll, default=str)), "plan_bytes": len(json.dumps(solved, default=str)),
        "left_out": dict(reasons),
    }  # fmt: skip


def main() -> None:
    """Print the real-path figures for each fleet size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="rizhao")
    parser.add_argument("--vans", default="39,7", help="fleet sizes to try (39 = what `countyhub run --profile rizhao` seeds)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(f"city day through the real path: profile {args.profile}, time limit {args.seconds:g} s")
    header = "vans stops served vehicles trips first_plan_s objective rose cost_yuan poll_B plan_B left_out"
    print(header)
    for vans in (int(v) for v in args.vans.split(",")):
        r = run(args.profile, vans, args.seconds)
        print(f"{r['vans']:>4} {r['stops']:>5} {r['served']:>6} {r['vehicles']!s:>8} {r['trips']!s:>5} {r['first_plan_s']!s:>12} "
              f"{r['objective']!s:>9} {r['objective_rose']!s:>4} {r['cost_yuan']!s:>9} {r['poll_bytes']:>6} {r['plan_bytes']:>7} "
              f"{r['left_out']}")  # fmt: skip


if __name__ == "__main__":
    main()
