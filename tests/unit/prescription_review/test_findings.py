"""Every finding code: a prescription that triggers it and a near miss that does not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from services.prescription_review.model.compiled import CompiledKnowledge
from services.prescription_review.model.engine import ScreeningResult, screen
from services.prescription_review.model.findings import CODES, SeverityPolicy
from services.prescription_review.model.registry import PrescriberRecord
from services.prescription_review.schemas import ScreeningIn
from tests.unit.prescription_review.conftest import NOW, rx_body

INFECTION = [{"code": "J02.9", "name": "急性咽炎"}]


def line(code: str, dose: Any, unit: str, freq: str, route: str = "oral", days: int = 3, qty: float = 1) -> dict[str, Any]:
    """One prescription line."""
    return {"item_code": code, "dose": dose, "dose_unit": unit, "frequency": freq, "route": route, "days": days, "quantity": qty}


def run(ck: CompiledKnowledge, body: dict[str, Any], registry: dict[str, PrescriberRecord] | None = None) -> ScreeningResult:
    """Screen a request body with default severities."""
    return screen(ScreeningIn().load(body), ck, SeverityPolicy(), registry or {}, NOW)


def with_(items: list[dict[str, Any]] | None = None, **patient: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the base body: replace the items and/or patient fields."""

    def change(b: dict[str, Any]) -> None:
        if items is not None:
            b["items"] = items
        b["patient"].update(patient)

    return change


def top(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """A change to top-level fields."""
    return lambda b: b.update(fields)


AMLO = line("YP000174", 5, "mg", "qd", days=7, qty=7)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], None]]] = [
    ("ANTIBIOTIC_PRIVILEGE",
     lambda b: (with_([line("YP000020", 1, "g", "qd", "ivgtt", 3, 3)], diagnoses=INFECTION)(b),
                b["prescriber"].update(privileges=["antibiotic_unrestricted"])),
     lambda b: (with_([line("YP000020", 1, "g", "qd", "ivgtt", 3, 3)], diagnoses=INFECTION)(b),
                b["prescriber"].update(privileges=["antibiotic_restricted"]))),
    ("CONTROLLED_PRIVILEGE",
     lambda b: (with_([line("YP000074", 10, "mg", "st", "im", 1, 1)], diagnoses=[{"code": "C34.9"}])(b),
                b["prescriber"].update(privileges=[])),
     lambda b: (with_([line("YP000074", 10, "mg", "st", "im", 1, 1)], diagnoses=[{"code": "C34.9"}])(b),
                b["prescriber"].update(privileges=["narcotic"]))),
    ("MISSING_FIELD", with_([dict(AMLO, frequency="遵医嘱")]), with_([AMLO])),
    ("TOO_MANY_ITEMS",
     with_([AMLO, line("YP000339", 0.1, "g", "tid", qty=9), line("YP000248", 0.4, "mg", "qd", qty=3),
            line("YP000250", 0.5, "mg", "tid", qty=9), line("YP000336", 10, "mg", "tid", qty=9),
            line("YP000337", 5, "mg", "tid", qty=9)]),
     with_([AMLO, line("YP000339", 0.1, "g", "tid", qty=9), line("YP000248", 0.4, "mg", "qd", qty=3),
            line("YP000250", 0.5, "mg", "tid", qty=9), line("YP000336", 10, "mg", "tid", qty=9)])),
    ("PRESCRIPTION_EXPIRED", top(issued_at="2026-11-20T16:00:00+08:00"), top(issued_at="2026-11-20T16:00:00+08:00", valid_days=3)),
    ("NOT_IN_FORMULARY", with_([line("HC000001", 1, "支", "st", "sc", 1, 1)]), with_([AMLO])),
    ("NOT_IN_SITE_LIST",
     lambda b: (with_([line("YP000499", 1, "g", "q8h", "ivgtt", 3, 18)], diagnoses=INFECTION)(b), b.update(site_code="CW-T01"),
                b["prescriber"].update(privileges=["antibiotic_special"])),
     lambda b: (with_([line("YP000499", 1, "g", "q8h", "ivgtt", 3, 18)], diagnoses=INFECTION)(b),
                b["prescriber"].update(privileges=["antibiotic_special"]))),
    ("QUANTITY_INCONSISTENT", with_([dict(AMLO, quantity=3)]), with_([dict(AMLO, quantity=7)])),
    # A tablet dosed in mL, a unit nobody knows, or 片 for a capsule (粒): the dose cannot be checked.
    ("DOSE_UNIT_MISMATCH", with_([dict(AMLO, dose_unit="mL")]), with_([dict(AMLO, dose=0.005, dose_unit="g")])),
    ("DOSE_UNIT_MISMATCH", with_([dict(AMLO, dose_unit="mmol")]), with_([dict(AMLO, dose=5000, dose_unit="µg")])),
    ("DOSE_UNIT_MISMATCH", with_([line("YP000008", 1, "片", "tid", days=3, qty=9)], diagnoses=INFECTION),
     with_([line("YP000008", 1, "粒", "tid", days=3, qty=9)], diagnoses=INFECTION)),
    ("DOSE_UNIT_MISMATCH", with_([line("YP000002", 0.5, "g", "bid", "im", 3, 6)], diagnoses=INFECTION),
     with_([line("YP000002", 160, "万单位", "bid", "im", 3, 6)], diagnoses=INFECTION)),
    ("DAYS_SUPPLY_EXCEEDED", with_([dict(AMLO, days=8, quantity=8)]), with_([dict(AMLO, days=7, quantity=7)])),
    ("CONTROLLED_LIMIT", with_([line("YP000133", 2.5, "mg", "qn", days=8, qty=8)], diagnoses=[{"code": "F41.1"}]),
     with_([line("YP000133", 2.5, "mg", "qn", days=7, qty=7)], diagnoses=[{"code": "F41.1"}])),
    ("DOSE_ABOVE_MAX", with_([line("YP000223", 20, "mg", "tid", qty=18)], diagnoses=[{"code": "K30"}]),
     with_([line("YP000223", 10, "mg", "tid", qty=9)], diagnoses=[{"code": "K30"}])),
    ("DOSE_BELOW_MIN", with_([line("YP000039", 200, "mg", "qd", qty=2)], diagnoses=INFECTION),
     with_([line("YP000039", 400, "mg", "qd", qty=3)], diagnoses=INFECTION)),
    ("ROUTE_INAPPROPRIATE", with_([line("YP000357", 1.5, "g", "st", "iv", 1, 1)], diagnoses=[{"code": "E87.6"}]),
     with_([line("YP000357", 1.5, "g", "st", "ivgtt", 1, 1)], diagnoses=[{"code": "E87.6"}])),
    ("DUPLICATE_THERAPY", with_([line("YP000215", 20, "mg", "qd", qty=3), line("YP000218", 20, "mg", "qd", qty=3)],
                                diagnoses=[{"code": "K21.0"}]),
     with_([line("YP000215", 20, "mg", "qd", qty=3), line("YP000213", 20, "mg", "bid", qty=6)], diagnoses=[{"code": "K21.0"}])),
    ("DDI_CONTRAINDICATED", with_([line("YP000188", 20, "mg", "qn", qty=3), line("YP000029", 0.25, "g", "bid", qty=6)],
                                  diagnoses=[{"code": "E78.0"}, *INFECTION]),
     with_([line("YP000191", 10, "mg", "qn", qty=3), line("YP000027", 0.5, "g", "qd", qty=3)],
           diagnoses=[{"code": "E78.0"}, *INFECTION])),
    ("DDI_MAJOR", with_([line("YP000262", 2.5, "mg", "qd", qty=3), line("YP000081", 0.3, "g", "bid", qty=6)],
                        diagnoses=[{"code": "I48.9"}]),
     with_([line("YP000262", 2.5, "mg", "qd", qty=3), line("YP000077", 0.5, "g", "tid", qty=9)], diagnoses=[{"code": "I48.9"}])),
    ("DDI_MODERATE", with_([line("YP000037", 0.5, "g", "qd", qty=3), line("YP000296", 600, "mg", "qd", qty=3)],
                           diagnoses=INFECTION),
     with_([line("YP000037", 0.5, "g", "qd", qty=3), AMLO], diagnoses=[*INFECTION, {"code": "I10"}])),
    ("ALLERGY", with_([line("YP000008", 0.5, "g", "tid", qty=9)], allergies=["青霉素"], diagnoses=INFECTION),
     with_([line("YP000008", 0.5, "g", "tid", qty=9)], allergies=["磺胺"], diagnoses=INFECTION)),
    ("ALLERGY_CROSS_SENSITIVITY", with_([line("YP000017", 0.25, "g", "bid", qty=6)], allergies=["青霉素皮试阳性"], diagnoses=INFECTION),
     with_([line("YP000017", 0.25, "g", "bid", qty=6)], allergies=["磺胺"], diagnoses=INFECTION)),
    ("CONTRAINDICATED_DIAGNOSIS", with_([line("YP000154", 10, "mg", "tid", qty=9)], diagnoses=[{"code": "I10"}, {"code": "J45.900"}]),
     with_([line("YP000154", 10, "mg", "tid", qty=9)], diagnoses=[{"code": "I10"}])),
    ("NO_INDICATION", with_([line("YP000008", 0.5, "g", "tid", qty=9)], diagnoses=[{"code": "J06.9", "name": "急性上呼吸道感染"}]),
     with_([line("YP000008", 0.5, "g", "tid", qty=9)], diagnoses=INFECTION)),
    ("PREGNANCY", with_([line("YP000262", 2.5, "mg", "qd", qty=3)], pregnant=True, diagnoses=[{"code": "I26.9"}]),
     with_([line("YP000262", 2.5, "mg", "qd", qty=3)], pregnant=False, diagnoses=[{"code": "I26.9"}])),
    ("LACTATION", with_([line("YP000040", 0.4, "g", "tid", qty=9)], lactating=True, diagnoses=[{"code": "A06.0"}]),
     with_([line("YP000040", 0.4, "g", "tid", qty=9)], lactating=False, diagnoses=[{"code": "A06.0"}])),
    ("AGE_INAPPROPRIATE", with_([line("YP000037", 0.5, "g", "qd", qty=3)], age_years=16, diagnoses=INFECTION),
     with_([line("YP000037", 0.5, "g", "qd", qty=3)], age_years=18, diagnoses=INFECTION)),
]  # fmt: skip


@pytest.mark.parametrize(("code", "trigger", "near_miss"), CASES, ids=[c[0] for c in CASES])
def test_finding_triggers_and_near_miss_does_not(ck: CompiledKnowledge, code: str, trigger: Any, near_miss: Any) -> None:
    hit, miss = copy.deepcopy(rx_body()), copy.deepcopy(rx_body())
    trigger(hit)
    near_miss(miss)
    found = run(ck, hit)
    assert code in {f.code for f in found.findings}, found.findings
    finding = next(f for f in found.findings if f.code == code)
    assert finding.basis and finding.message
    assert code not in {f.code for f in run(ck, miss).findings}, run(ck, miss).findings


@pytest.mark.parametrize(("patient", "expect_missing"), [
    ({"age_years": 5, "weight_kg": None}, True),  # a per-kg band applies: without weight the dose goes unchecked
    ({"age_years": None, "age_days": 400, "weight_kg": None}, True),
    ({"age_years": 5, "weight_kg": 18}, False),  # weighed: checked (DOSE_ABOVE_MAX instead)
    ({"age_years": 30, "weight_kg": None}, False),  # adult band is per dose
])  # fmt: skip
def test_child_without_weight_where_the_range_is_per_kg(ck: CompiledKnowledge, patient: dict[str, Any], expect_missing: bool) -> None:
    b = rx_body(items=[line("YP000009", 1, "g", "tid", days=3, qty=72)])
    b["patient"].update(patient, diagnoses=INFECTION)
    found = run(ck, b).findings
    missing = [f for f in found if f.code == "MISSING_FIELD" and f.item_index == 0 and "体重" in f.message]
    assert bool(missing) is expect_missing, found
    if patient.get("weight_kg"):
        assert "DOSE_ABOVE_MAX" in {f.code for f in found}


@pytest.mark.parametrize("word", ["β-内酰胺类", "β内酰胺", "beta-lactam", "Β-内酰胺类抗生素过敏"])
@pytest.mark.parametrize("code", ["YP000008", "YP000017", "YP000499"])  # amoxicillin, cefuroxime, meropenem
def test_beta_lactam_allergy_covers_penicillins_cephalosporins_carbapenems(ck: CompiledKnowledge, word: str, code: str) -> None:
    b = rx_body(items=[line(code, 0.5, "g", "tid", "oral" if code != "YP000499" else "ivgtt", 3, 9)])
    b["patient"].update(allergies=[word], diagnoses=INFECTION)
    assert "ALLERGY" in {f.code for f in run(ck, b).findings}
    b["patient"].update(allergies=["花粉"])
    assert "ALLERGY" not in {f.code for f in run(ck, b).findings}


def test_every_code_is_covered() -> None:
    covered = {c[0] for c in CASES} | {"PRESCRIBER_NOT_AUTHORIZED"}
    assert covered == set(CODES)


def test_prescriber_registry_first_then_his(ck: CompiledKnowledge) -> None:
    record = PrescriberRecord("D001", "张医生", ("CW-H01",), "attending", frozenset({"antibiotic_restricted"}))
    codes = lambda r: {f.code for f in r.findings}  # noqa: E731
    assert "PRESCRIBER_NOT_AUTHORIZED" not in codes(run(ck, rx_body(), {"D001": record}))
    inactive = PrescriberRecord("D001", "张医生", ("CW-H01",), "attending", frozenset(), active=False)
    assert "PRESCRIBER_NOT_AUTHORIZED" in codes(run(ck, rx_body(), {"D001": inactive}))
    elsewhere = PrescriberRecord("D001", "张医生", ("CW-T01",), "attending", frozenset())
    assert "PRESCRIBER_NOT_AUTHORIZED" in codes(run(ck, rx_body(), {"D001": elsewhere}))
    # An 执业助理医师 prescribes alone at a township site but not at the county hospital (第八条).
    assistant = rx_body(prescriber={"id": "D009", "title": "assistant"})
    assert "PRESCRIBER_NOT_AUTHORIZED" in codes(run(ck, assistant))
    assert "PRESCRIBER_NOT_AUTHORIZED" not in codes(run(ck, dict(assistant, site_code="CW-T01")))
    # The registry's privileges beat what the HIS sends.
    abx = rx_body(items=[line("YP000020", 1, "g", "qd", "ivgtt", 3, 3)])
    abx["patient"]["diagnoses"] = INFECTION
    limited = PrescriberRecord("D001", "张医生", ("CW-H01",), "resident", frozenset({"antibiotic_unrestricted"}))
    assert "ANTIBIOTIC_PRIVILEGE" in codes(run(ck, abx, {"D001": limited}))
    assert "ANTIBIOTIC_PRIVILEGE" not in codes(run(ck, abx))


def test_long_term_prescriptions(ck: CompiledKnowledge) -> None:
    def codes(days: int, diag: str, item: dict[str, Any] = AMLO) -> set[str]:
        b = rx_body(type="long_term", items=[dict(item, days=days, quantity=days)])
        b["patient"]["diagnoses"] = [{"code": diag}]
        return {f.code for f in run(ck, b).findings}

    assert "DAYS_SUPPLY_EXCEEDED" not in codes(28, "R51")  # four weeks: any diagnosis
    assert "DAYS_SUPPLY_EXCEEDED" in codes(29, "R51")  # over four weeks without a stable chronic disease
    assert "DAYS_SUPPLY_EXCEEDED" not in codes(84, "I10")  # 12 weeks for hypertension
    assert "DAYS_SUPPLY_EXCEEDED" in codes(85, "I10")  # never over 12 weeks
    amox = line("YP000008", 0.5, "g", "tid")
    assert "DAYS_SUPPLY_EXCEEDED" in codes(7, "J02.9", amox)  # antimicrobials never long-term


def test_emergency_and_controlled_forms(ck: CompiledKnowledge) -> None:
    b = rx_body(type="emergency", items=[dict(AMLO, days=4, quantity=4)])
    assert "DAYS_SUPPLY_EXCEEDED" in {f.code for f in run(ck, b).findings}
    b["items"] = [dict(AMLO, days=3, quantity=3)]
    assert "DAYS_SUPPLY_EXCEEDED" not in {f.code for f in run(ck, b).findings}
    morphine = rx_body(items=[line("YP000074", 10, "mg", "bid", "im", 1, 2)], prescriber={"id": "D1", "privileges": ["narcotic"]})
    morphine["patient"]["diagnoses"] = [{"code": "S72.0"}]
    assert "CONTROLLED_LIMIT" in {f.code for f in run(ck, morphine).findings}  # injection: one dose only
    cr = rx_body(items=[line("YP000075", 30, "mg", "q12h", "oral", 8, 16)], prescriber={"id": "D1", "privileges": ["narcotic"]})
    cr["patient"]["diagnoses"] = [{"code": "M54.5"}]
    assert "CONTROLLED_LIMIT" in {f.code for f in run(ck, cr).findings}  # controlled-release: 7 days
    cr["patient"]["diagnoses"] = [{"code": "C34.9"}]
    assert "CONTROLLED_LIMIT" not in {f.code for f in run(ck, cr).findings}  # cancer pain: 15 days (第二十四条)


def test_paediatric_dose_by_weight_and_elderly_band(ck: CompiledKnowledge) -> None:
    child = rx_body(items=[line("YP000078", 150, "mg", "q6h", qty=1)])
    child["patient"].update(age_years=3, weight_kg=14, diagnoses=[{"code": "R50.9"}])
    assert "DOSE_ABOVE_MAX" not in {f.code for f in run(ck, child).findings}  # 10.7 mg/kg
    child["items"][0]["dose"] = 300  # 21 mg/kg per dose
    assert "DOSE_ABOVE_MAX" in {f.code for f in run(ck, child).findings}
    old = rx_body(items=[line("YP000130", 20, "mg", "qd", qty=3)])
    old["patient"].update(age_years=70, diagnoses=[{"code": "F32.1"}])
    assert "DOSE_ABOVE_MAX" in {f.code for f in run(ck, old).findings}  # 10 mg a day over 65
    old["patient"]["age_years"] = 50
    assert "DOSE_ABOVE_MAX" not in {f.code for f in run(ck, old).findings}


def test_quantity_whole_packages_only_when_the_need_spans_them(ck: CompiledKnowledge) -> None:
    package = ck.profiles["YP000174"].facts.package_size  # 7 tablets a box
    codes = lambda q, days=7: {f.code for f in run(ck, rx_body(items=[dict(AMLO, days=days, quantity=q)])).findings}  # noqa: E731
    assert "QUANTITY_INCONSISTENT" not in codes(7)
    assert "QUANTITY_INCONSISTENT" in codes(8)
    assert "QUANTITY_INCONSISTENT" in codes(package, days=5)  # 5 needed, a 7-tablet box: split it (拆零)
    assert "QUANTITY_INCONSISTENT" not in codes(2 * package, days=14)  # whole boxes when the need spans them
    big = rx_body(items=[line("YP000079", 100, "mg", "qd", days=7, qty=7)])  # aspirin, bottles of many
    big["patient"]["diagnoses"] = [{"code": "I25.1"}]
    assert "QUANTITY_INCONSISTENT" not in {f.code for f in run(ck, big).findings}
    big["items"][0]["quantity"] = ck.profiles["YP000079"].facts.package_size
    assert "QUANTITY_INCONSISTENT" in {f.code for f in run(ck, big).findings}  # a whole bottle for 7 days: split it (拆零)
    compound = rx_body(items=[line("YP000198", 2, "片", "tid", days=3, qty=18)])  # 复方甘草片: count known, no amount
    compound["patient"]["diagnoses"] = [{"code": "J20.9"}]
    assert "QUANTITY_INCONSISTENT" not in {f.code for f in run(ck, compound).findings}
    compound["items"][0]["quantity"] = 10
    assert "QUANTITY_INCONSISTENT" in {f.code for f in run(ck, compound).findings}


def test_topical_and_systemic_same_generic_are_not_duplicates(ck: CompiledKnowledge) -> None:
    b = rx_body(items=[line("YP000027", 0.5, "g", "qd", qty=3), line("YP000382", 1, "支", "tid", "eye", 3, 1)])
    b["patient"]["diagnoses"] = [*INFECTION, {"code": "H10.9"}]
    codes = {f.code for f in run(ck, b).findings}
    assert "DUPLICATE_THERAPY" not in codes and "DDI_MAJOR" not in codes


ADDED_DOSES = [  # (item, one dose at the label's single maximum, frequency giving the daily maximum)
    ("YP000055", 1, "qd"), ("YP000057", 300, "qd"), ("YP000043", 100, "qid"), ("YP000046", 200, "bid"),
    ("YP000150", 90, "qid"), ("YP000152", 300, "qid"), ("YP000153", 300, "tid"), ("YP000193", 16, "tid"),
    ("YP000197", 600, "bid"), ("YP000199", 25, "qid"), ("YP000246", 200, "tid"), ("YP000254", 100, "bid"),
    ("YP000502", 600, "bid"), ("YP000507", 200, "tid"), ("YP000509", 100, "tid"), ("YP000236", 1000, "qid"),
    ("YP000094", 200, "bid"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "dose", "freq"), ADDED_DOSES)
def test_label_dose_ranges_added_for_common_generics(ck: CompiledKnowledge, code: str, dose: float, freq: str) -> None:
    """At the label's limits: no dose finding; 10% above the single dose, or one administration more a day: above max."""

    def codes(d: float, f: str) -> set[str]:
        b = rx_body(items=[{"item_code": code, "dose": d, "dose_unit": "mg", "frequency": f, "route": "oral", "days": 1, "quantity": 100}])
        b["patient"].update(diagnoses=[{"code": "B18.1"}, {"code": "N39.0"}, {"code": "B37.9"}, {"code": "I25.1"}, {"code": "J20.9"}])
        return {x.code for x in run(ck, b).findings}

    assert "DOSE_ABOVE_MAX" not in codes(dose, freq)
    assert "DOSE_ABOVE_MAX" in codes(dose * 1.1, freq)
    more = {"qd": "bid", "bid": "tid", "tid": "qid", "qid": "q6h"}[freq]
    if more != "q6h":
        assert "DOSE_ABOVE_MAX" in codes(dose, more)
