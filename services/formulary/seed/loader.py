"""Seeding the sample county through the same use cases a committee uses: propose, then approve."""

from __future__ import annotations

import logging
from typing import Any

from services.formulary import service, store_changes
from services.formulary.commands import ApproveChanges, ProposeItem, ProposeSite, ProposeStocklist, Why
from services.formulary.seed.catalogue import load_catalogue
from services.formulary.seed.county import County, Site, generate_county
from services.formulary.seed.stocklists import default_stocklists
from shared.auth import Principal
from shared.db import read_only
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)

# The committee needs two people (the proposer may not approve), so the seed has two as well.
SEED_ACTOR = Principal(subject="seed", roles=("pharmacy_manager",), name="系统初始化")
SEED_APPROVER = Principal(subject="seed-committee", roles=("pharmacy_manager",), name="系统初始化（药事会）")


def site_payload(site: Site) -> dict[str, Any]:
    """The API's site body for a generated site."""
    return {
        "code": site.code,
        "name": site.name,
        "tax_id": site.tax_id,
        "level": site.level,
        "parent_code": site.parent_code,
        "is_hub": site.is_hub,
        "lat": site.lat,
        "lon": site.lon,
        "receiving_hours": [{"start": start, "end": end} for start, end in site.receiving_hours],
        "active": True,
        "address": site.address,
        "phone": site.phone,
    }


def seed_county(ctx: ServiceContext, county: County) -> dict[str, int]:
    """Propose and approve the catalogue, the sites and the default stocking lists as catalogue version 1."""
    items = [row.as_item() for row in load_catalogue()]
    proposals: list[service.ProposeCommand] = [
        ProposeItem(i["code"], {k: v for k, v in i.items() if k != "code"}, Why(note="初始目录")) for i in items
    ]
    # Parents before children: the approval applies changes in proposal order.
    order = {"county_hospital": 0, "township": 1, "village": 2}
    for site in sorted(county.sites, key=lambda s: (order[s.level], s.code)):
        proposals.append(ProposeSite(site.code, site_payload(site), why=Why(note="初始机构")))
    for key, codes in default_stocklists(items, county).items():
        scope, value = key.split(":", 1)
        proposals.append(ProposeStocklist(scope, value, tuple(codes), why=Why(note="默认品种目录")))
    ids = service.propose_many(ctx, SEED_ACTOR, proposals)
    approved = service.approve(ctx, SEED_APPROVER, ApproveChanges(tuple(ids), note="样例县初始目录"))
    return {"items": len(items), "sites": len(county.sites), "catalogue_version": approved.catalogue_version}


def seed_if_empty(ctx: ServiceContext, profile: str = "chengwu", seed: int = 2026) -> dict[str, int] | None:
    """Seed the sample county unless the catalogue already has a version; returns what was seeded."""
    with read_only(ctx.factory) as session:
        if store_changes.current_catalogue_version(session):
            return None
    return seed_county(ctx, generate_county(profile, seed=seed))
