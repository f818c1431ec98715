"""Quality figures of the review centre (质量管理), computed from reviews, screenings and audit rows.

- auto_pass_rate: prescriptions that passed screening without a pharmacist / all screened;
- intervention_rate: prescriptions a pharmacist returned or rejected / all screened;
- acceptance_rate: of returned prescriptions, those the prescriber changed and resubmitted
  (accepted the intervention) / those resubmitted or double-signed;
- turnaround (minutes from queueing to the pharmacist's decision): median and p90;
- released_unreviewed: prescriptions let through by the waiting limit;
- per rule: hits, hit_rate (share of screenings with the finding), override_rate (share of
  pharmacist-decided prescriptions with the finding that were approved anyway): high hit and
  override rates mark a noisy rule to tune (alert fatigue).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def figures(reviews: list[dict[str, Any]], screenings: list[dict[str, Any]], audit: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The figures for one period; see the module docstring for definitions."""
    total = len(reviews)
    statuses = Counter(r["status"] for r in reviews)
    first_outcomes = Counter(s["outcome"] for s in screenings if s["attempt"] == 1)
    auto_passed = sum(1 for r in reviews if r["decided_by"] == "auto" and r["status"] == "passed")
    actions = Counter(a["action"] for a in audit)
    interventions = actions["returned"] + actions["rejected"]
    answered = actions["resubmitted"] + actions["double_signed"]
    turnaround = [
        (r["decided_at"] - r["queued_at"]).total_seconds() / 60
        for r in reviews
        if r["queued_at"] is not None and r["decided_at"] is not None and r["decided_by"] not in ("auto", "waiting-limit")
    ]
    decided = {r["id"]: r["status"] for r in reviews if r["status"] in ("approved", "rejected", "returned")}
    n_screenings = len(screenings)
    hits: Counter[str] = Counter()
    in_decided: Counter[str] = Counter()
    overridden: Counter[str] = Counter()
    for s in screenings:
        codes = set(filter(None, (s["codes"] or "").split(",")))
        hits.update(codes)
        status = decided.get(s["review_id"])
        if status is not None:
            in_decided.update(codes)
            if status == "approved":
                overridden.update(codes)
    rules = {
        code: {
            "hits": n,
            "hit_rate": n / n_screenings if n_screenings else 0.0,
            "override_rate": overridden[code] / in_decided[code] if in_decided[code] else None,
        }
        for code, n in sorted(hits.items(), key=lambda kv: -kv[1])
    }
    return {
        "prescriptions": total,
        "screenings": n_screenings,
        "first_outcomes": dict(first_outcomes),
        "statuses": dict(statuses),
        "auto_pass_rate": auto_passed / total if total else None,
        "intervention_rate": interventions / total if total else None,
        "acceptance_rate": actions["resubmitted"] / answered if answered else None,
        "interventions": interventions,
        "resubmitted": actions["resubmitted"],
        "double_signed": actions["double_signed"],
        "released_unreviewed": actions["released_unreviewed"],
        "turnaround_minutes": {"median": percentile(turnaround, 50), "p90": percentile(turnaround, 90), "n": len(turnaround)},
        "rules": rules,
    }
