"""A morning's prescriptions for the sample county (demo and benchmark data, deterministic).

Built from scenarios a county sees every day — hypertension and diabetes refills, colds with and
without antibiotics, gastritis, gout, children with fever — and a share of the mistakes the review
centre exists to catch (warfarin with an NSAID, simvastatin with clarithromycin, domperidone over
30 mg a day, 10 days on an outpatient prescription, an antibiotic for a cold, a penicillin-allergic
patient given amoxicillin). Item codes are the seed catalogue's (services/formulary/seed).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from shared.clock import LOCAL_TZ


def _l(code: str, dose: float, unit: str, freq: str, days: int, qty: float, route: str = "oral") -> dict[str, Any]:
    return {"item_code": code, "dose": dose, "dose_unit": unit, "frequency": freq, "route": route, "days": days, "quantity": qty}


# (weight, diagnoses, lines, patient extras)
SCENARIOS: list[tuple[int, list[tuple[str, str]], list[dict[str, Any]], dict[str, Any]]] = [
    (14, [("I10", "原发性高血压")], [_l("YP000174", 5, "mg", "qd", 7, 7)], {}),
    (8, [("I10", "原发性高血压"), ("E78.0", "高胆固醇血症")], [_l("YP000174", 5, "mg", "qd", 7, 7), _l("YP000189", 20, "mg", "qn", 7, 7)], {}),
    (10, [("E11.9", "2型糖尿病")], [_l("YP000281", 0.5, "g", "tid", 7, 21), _l("YP000288", 50, "mg", "tid", 7, 21)], {}),
    (8, [("J02.9", "急性咽炎")], [_l("YP000008", 0.5, "g", "tid", 5, 15), _l("YP000077", 0.5, "g", "tid", 3, 9)], {}),
    (6, [("J06.9", "急性上呼吸道感染")], [_l("YP000399", 4, "粒", "tid", 3, 36), _l("YP000077", 0.5, "g", "tid", 3, 9)], {}),
    (6, [("K29.7", "慢性胃炎")], [_l("YP000215", 20, "mg", "bid", 7, 14), _l("YP000225", 5, "mg", "tid", 7, 21)], {}),
    (4, [("M10.9", "痛风")], [_l("YP000092", 0.5, "mg", "bid", 3, 6), _l("YP000081", 0.3, "g", "bid", 3, 6)], {}),
    (5, [("R50.9", "发热")], [_l("YP000078", 150, "mg", "q6h", 2, 1)], {"age_years": 4, "weight_kg": 16}),
    (4, [("I48.9", "心房颤动"), ("M54.5", "腰痛")], [_l("YP000262", 2.5, "mg", "qd", 7, 7), _l("YP000081", 0.3, "g", "bid", 5, 10)], {}),
    (2, [("E78.0", "高胆固醇血症"), ("J20.9", "急性支气管炎")],
     [_l("YP000188", 20, "mg", "qn", 7, 7), _l("YP000029", 0.25, "g", "bid", 5, 10)], {}),
    (3, [("K30", "功能性消化不良")], [_l("YP000223", 20, "mg", "tid", 3, 18)], {}),
    (3, [("I10", "原发性高血压")], [_l("YP000174", 5, "mg", "qd", 10, 10)], {}),
    (3, [("J06.9", "急性上呼吸道感染")], [_l("YP000008", 0.5, "g", "tid", 3, 9)], {}),
    (2, [("J02.9", "急性咽炎")], [_l("YP000008", 0.5, "g", "tid", 3, 9)], {"allergies": ["青霉素"]}),
    (2, [("N39.0", "尿路感染")], [_l("YP000037", 0.5, "g", "qd", 3, 3)], {"age_years": 15}),
]  # fmt: skip


GAP = timedelta(seconds=63)  # between two prescriptions: 200 fill 08:00-11:30


def morning(sites: list[str], n: int = 200, seed: int = 7, start: datetime | None = None,
            now: datetime | None = None) -> list[dict[str, Any]]:
    """n screening request bodies at the given sites, one every 63 s from `start`.

    Without `start` they begin at 08:00 today on the county's clock (shared.clock.LOCAL_TZ, not the
    machine's), or end at `now` when that morning has not yet gone by: the schema refuses a
    prescription issued in the future, so the demo works at any hour (at 06:30, 120 prescriptions run
    04:25-06:30). They never start before local midnight: a prescription is valid on the day it is
    issued (处方管理办法 第十八条), so one from yesterday would be refused, not queued; just after
    midnight they come closer together instead."""
    rng = random.Random(seed)
    gap = GAP
    if start is None:
        now = (now or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ)
        start = now.replace(hour=8, minute=0, second=0, microsecond=0)
        if start + GAP * max(n - 1, 0) > now:  # that morning has not gone by yet
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            gap = min(GAP, (now - midnight) // max(n - 1, 1))  # floored: never starts before midnight
            start = now - gap * max(n - 1, 0)
    weights = [s[0] for s in SCENARIOS]
    bodies = []
    for k in range(n):
        _, diagnoses, lines, extra = rng.choices(SCENARIOS, weights)[0]
        patient = {"id": f"P{rng.randrange(10**6):06d}", "age_years": rng.randint(25, 80), "sex": rng.choice("FM"),
                   "weight_kg": rng.randint(48, 85), "allergies": [], "diagnoses": [{"code": c, "name": nm} for c, nm in diagnoses]}
        patient.update(extra)
        bodies.append({
            "prescription_no": f"R{start:%Y%m%d}-{k + 1:04d}", "site_code": rng.choice(sites), "type": "outpatient",
            "issued_at": (start + gap * k).isoformat(),
            "prescriber": {"id": f"D{rng.randint(1, 40):03d}", "privileges": ["antibiotic_restricted"]},
            "patient": patient, "items": [dict(x) for x in lines],
        })  # fmt: skip
    return bodies


def five_item_prescription() -> dict[str, Any]:
    """The benchmark's prescription: five lines, several findings (DDI, duplicate, dose)."""
    return {
        "prescription_no": "BENCH-0001", "site_code": "CW-H01", "type": "outpatient",
        "issued_at": datetime.now().astimezone().isoformat(),
        "prescriber": {"id": "D001", "privileges": ["antibiotic_restricted"]},
        "patient": {"id": "P1", "age_years": 67, "sex": "F", "weight_kg": 58, "allergies": ["磺胺"],
                    "diagnoses": [{"code": "I10"}, {"code": "I48.9"}, {"code": "E78.0"}, {"code": "M54.5"}]},
        "items": [_l("YP000174", 5, "mg", "qd", 7, 7), _l("YP000262", 2.5, "mg", "qd", 7, 7), _l("YP000081", 0.3, "g", "bid", 5, 10),
                  _l("YP000188", 20, "mg", "qn", 7, 7), _l("YP000215", 20, "mg", "qd", 7, 7)],
    }  # fmt: skip
