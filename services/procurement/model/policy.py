"""The procurement service's configurable figures, with their defaults and sources."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal

from services.procurement.model.vbp import Policy as VbpPolicy


@dataclass(frozen=True)
class ProcurementPolicy:
    """Figures a county may change (environment PROCUREMENT_*).

    - short_expiry_months: least remaining shelf life accepted at receipt (6; common 医共体 rule).
    - near_expiry_months: 近效期 alert horizon (6; GSP 近效期 warning practice).
    - lead_time_days, safety_days, consumption_window_days: replenishment (2, 7, 30).
    - vbp: at-risk factor 0.8, retention 0.5, assessment 1, unpaid limit 30 days (国办发〔2019〕2号).
    """

    short_expiry_months: int = 6
    near_expiry_months: int = 6
    lead_time_days: int = 2
    safety_days: int = 7
    consumption_window_days: int = 30
    vbp: VbpPolicy = field(default_factory=VbpPolicy)


def policy_from_env(env: dict[str, str] | None = None) -> ProcurementPolicy:
    """The policy from PROCUREMENT_* environment variables (defaults where unset)."""
    e = os.environ if env is None else env

    def num(name: str, default: int) -> int:
        return int(e.get(f"PROCUREMENT_{name}", default))

    def dec(name: str, default: str) -> Decimal:
        return Decimal(e.get(f"PROCUREMENT_{name}", default))

    return ProcurementPolicy(
        short_expiry_months=num("SHORT_EXPIRY_MONTHS", 6),
        near_expiry_months=num("NEAR_EXPIRY_MONTHS", 6),
        lead_time_days=num("LEAD_TIME_DAYS", 2),
        safety_days=num("SAFETY_DAYS", 7),
        consumption_window_days=num("CONSUMPTION_WINDOW_DAYS", 30),
        vbp=VbpPolicy(
            at_risk_factor=dec("VBP_AT_RISK_FACTOR", "0.8"),
            retention_ratio=dec("VBP_RETENTION_RATIO", "0.5"),
            assessment_ratio=dec("VBP_ASSESSMENT_RATIO", "1"),
            unpaid_limit_days=num("VBP_UNPAID_LIMIT_DAYS", 30),
        ),
    )
