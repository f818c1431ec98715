"""Use cases of the procurement service: one function per command, each one transaction.

Modules: `requisitions` (请领单 from draft to received), `receiving` (两票制 receipts, payments),
`purchasing` (distributors, manufacturers, prices, VBP contracts, purchase orders), `stock`
(site adjustments, transfers, and the event handlers' stock effects).
"""

from __future__ import annotations

from datetime import date, datetime

from services.procurement.model.policy import ProcurementPolicy, policy_from_env
from shared.clock import LOCAL_TZ, utcnow
from shared.runtime import ServiceContext

CENTRAL_ROLES = ("pharmacy_manager",)
SITE_ROLES = ("storekeeper", "pharmacy_manager")


def policy(ctx: ServiceContext) -> ProcurementPolicy:
    """The service's policy: ctx.extras["procurement_policy"] if set (tests), else from the environment."""
    found = ctx.extras.get("procurement_policy")
    if isinstance(found, ProcurementPolicy):
        return found
    made = policy_from_env()
    ctx.extras["procurement_policy"] = made
    return made


def now(ctx: ServiceContext) -> datetime:
    """The current time (UTC); ctx.extras["now"] pins it in tests."""
    pinned = ctx.extras.get("now")
    return pinned if isinstance(pinned, datetime) else utcnow()


def today(ctx: ServiceContext) -> date:
    """Today in the county (Asia/Shanghai)."""
    return now(ctx).astimezone(LOCAL_TZ).date()
