"""Dispatch's read use cases: plans as each caller may see them, manifests, comparisons, publish previews.

Read-only; SQL lives in store.py / queries.py, shaping in presentation.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.dispatch import queries, store
from services.dispatch.presentation import (
    compare,
    for_site,
    is_shipment_entry,
    published_routes,
    with_break_codes,
)
from services.dispatch.presentation import manifest as build_manifest
from services.dispatch.service import DISPATCHERS, closed_shipments, get_plan
from shared.auth import Principal
from shared.errors import Conflict, NotFound
from shared.runtime import ServiceContext


def plan_for(ctx: ServiceContext, actor: Principal, plan_id: str) -> dict[str, Any]:
    """A plan as the caller may see it: whole for county-wide roles, one site's stops for a storekeeper."""
    plan = with_break_codes(get_plan(ctx, plan_id))
    scope = actor.site_scope()
    return plan if scope is None else for_site(plan, scope)


def manifest(
    ctx: ServiceContext, actor: Principal, plan_id: str, vehicle_id: str, lang: str = "zh"
) -> dict[str, Any]:
    """One vehicle's driver manifest (presentation.manifest), labelled in ``lang`` ("zh" or "en").
    NotFound when it has no route on the plan."""
    actor.require(*DISPATCHERS)
    plan = get_plan(ctx, plan_id)
    if plan["result"] is None:
        raise NotFound(f"plan {plan_id} has no routes yet ({plan['status']})")
    legs = [r for r in plan["result"]["routes"] if vehicle_id in (r["vehicle"], r.get("vehicle_id"))]
    ids = [i for r in legs for s in r["stops"] for i in plan["stop_refs"].get(s["id"], {}).get("shipment_ids", [])]
    with ctx.factory() as session:
        base = legs[0].get("vehicle_id", vehicle_id) if legs else vehicle_id
        vehicle = next((v for v in queries.list_vehicles(session) if v["id"] == base), None)
        shipments = store.shipments_by_id(session, ids)
        codes = [line.get("item_code") for s in shipments.values() for line in s.get("lines") or [] if line.get("item_code")]
        names = store.item_names(session, codes)
        sites = {r.code: dict(r.snapshot) for r in store.site_rows(session)}
    out = build_manifest(plan, vehicle_id, vehicle, shipments, sites, names, lang)
    if out is None:
        raise NotFound(f"vehicle {vehicle_id} has no route on plan {plan_id}")
    return out


def compare_plans(ctx: ServiceContext, actor: Principal, plan_id: str, other_id: str | None = None) -> dict[str, Any]:
    """Before/after of a plan against its base plan (or ``other_id``): presentation.compare.

    Conflict when there is nothing to compare with or either plan has no routes yet."""
    actor.require(*DISPATCHERS)
    after = get_plan(ctx, plan_id)
    base_id = other_id or after["base_plan_id"]
    if base_id is None:
        raise Conflict(f"plan {plan_id} is not a re-plan; name a plan to compare with", {"base": "none"})
    before = get_plan(ctx, base_id)
    if before["result"] is None or after["result"] is None:
        raise Conflict("both plans need routes to be compared", {"plan_id": "not solved"})
    return compare(before, after)


def publish_preview(ctx: ServiceContext, actor: Principal, plan_id: str) -> dict[str, Any]:
    """What publishing would send out: vehicles, stops, shipments, stops left out, the plan it replaces,
    the shipments cancelled or delivered since the plan was made (``closed_shipments``: while any
    is listed, publishing is refused; re-plan first), and the shipments it carries after their
    deliver-by day (``late_shipments``: id, deliver_by, site)."""
    actor.require(*DISPATCHERS)
    plan = get_plan(ctx, plan_id)
    if plan["result"] is None:
        raise Conflict(f"plan {plan_id} is {plan['status']}; nothing to publish yet", {"plan_id": plan["status"]})
    routes, shipment_ids = published_routes(plan)
    with ctx.factory() as session:
        published = [p for p in queries.list_plans(session, plan["date"]) if p["status"] == "published"]
        carried = store.shipments_by_id(session, shipment_ids)
        confirmed = store.completed_stops(session, store.plan_lineage(session, plan_id))
    # Cancelled or delivered since the plan was made: publishing is refused (service.publish_plan), re-plan first.
    closed = closed_shipments(plan, carried, confirmed)
    late = [{"shipment_id": i, "deliver_by": s["deliver_by"], "site": s["site_code"]} for i, s in sorted(carried.items())
            if s.get("deliver_by") and s["deliver_by"] < plan["date"]]  # fmt: skip
    summary: dict[str, Any] = {
        "plan_id": plan_id, "date": plan["date"], "vehicles": [r["vehicle_id"] for r in routes],
        "stops": sum(len(r["stops"]) for r in routes), "shipments": len(shipment_ids),
        "unassigned": [u["id"] for u in plan["result"]["unassigned"] if not is_shipment_entry(u)],
        "unplanned_shipments": [u["shipment_id"] for u in plan["result"]["unassigned"] if is_shipment_entry(u)],
        "totals": plan["result"]["totals"],
        "replaces": published[0]["id"] if published else None, "changes": None, "closed_shipments": closed,
        "late_shipments": late,
    }  # fmt: skip
    if published:
        summary["changes"] = compare(get_plan(ctx, published[0]["id"]), plan)
    return summary


def plans_for(ctx: ServiceContext, actor: Principal, day: date | None) -> list[dict[str, Any]]:
    """Plans newest first (of one day when given), each with the shipments it carries after their
    deliver-by day (``late_shipments``, dayplan.late_shipments: shipment_id, deliver_by, site, stop);
    a storekeeper gets them without routes (those name other sites' stops) and with their own
    site's late shipments only: they read their own site's stops through ``plan_for``."""
    with ctx.factory() as session:
        rows = queries.list_plans(session, day.isoformat() if day else None)
    late = {r["id"]: list(r.pop("late_shipments") or []) for r in rows}
    scope = actor.site_scope()
    if scope is not None:
        own = {plan_id: [x for x in shipments if x.get("site") == scope] for plan_id, shipments in late.items()}
        return [{**row, "result": None, "late_shipments": own.get(row["id"], [])} for row in rows]
    return [with_break_codes({**row, "late_shipments": late.get(row["id"], [])}) for row in rows]


def completions_for(ctx: ServiceContext, actor: Principal, plan_id: str) -> list[dict[str, Any]]:
    """Stops confirmed on a plan; a storekeeper sees their own site's confirmations only."""
    plan = get_plan(ctx, plan_id)
    with ctx.factory() as session:
        rows = queries.list_completions(session, plan_id)
    scope = actor.site_scope()
    if scope is None:
        return rows
    return [r for r in rows if plan["stop_refs"].get(r["stop_id"], {}).get("site") == scope]
