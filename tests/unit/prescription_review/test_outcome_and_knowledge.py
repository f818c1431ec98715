"""Outcome mapping, severity policy per site level, the knowledge importer's report, hot reload,
and a property: any valid request screens without error and its outcome follows its findings."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.prescription_review.knowledge.importer import kb_to_tables, load_sample, parse_tables
from services.prescription_review.model.compiled import CompiledKnowledge, compile_knowledge
from services.prescription_review.model.engine import screen
from services.prescription_review.model.findings import SEVERITY_RANK, Finding, SeverityPolicy, outcome_of
from services.prescription_review.model.prescription import FREQUENCIES, ROUTES
from services.prescription_review.schemas import ScreeningIn
from tests.unit.prescription_review.conftest import NOW, rx_body


def f(severity: str) -> Finding:
    return Finding("X", severity, None, "", "")


def test_outcome_mapping() -> None:
    assert outcome_of([]) == "pass"
    assert outcome_of([f("info")]) == "pass"
    assert outcome_of([f("info"), f("warning")]) == "review"
    assert outcome_of([f("major")]) == "review"
    assert outcome_of([f("warning"), f("critical"), f("info")]) == "block"


def test_severity_policy_level_beats_star_beats_default() -> None:
    policy = SeverityPolicy({("*", "DDI_MODERATE"): "warning", ("village", "DDI_MODERATE"): "major", ("township", "ALLERGY"): "major"})
    assert policy.for_level("county_hospital")["DDI_MODERATE"] == "warning"
    assert policy.for_level("village")["DDI_MODERATE"] == "major"
    assert policy.for_level("township")["ALLERGY"] == "major"
    assert policy.for_level("county_hospital")["ALLERGY"] == "critical"


def test_importer_reports_bad_rows_by_table_row_and_field() -> None:
    kb, report = parse_tables("v2", {
        "interactions": "a,b,level,message,source\n华法林,布洛芬,severe,出血,说明书\n华法林,华法林,major,x,y\n",
        "doses": [{"drug": "华法林", "route_group": "oral", "basis": "per_dose", "unit": "mg", "single_max": "abc", "source": "s"}],
        "ages": [{"drug": "class:NOPE", "age_min": 5, "message": "m", "source": "s"}],
        "bogus": [],
    }, {"华法林", "布洛芬"})  # fmt: skip
    assert kb is None and not report.ok
    where = {(e["table"], e["row"], e["field"]) for e in report.errors}
    assert ("interactions", 1, "level") in where and ("interactions", 2, "b") in where
    assert ("doses", 1, "single_max") in where and ("bogus", None, "tables") in where
    assert any("class:NOPE" in e["message"] for e in report.errors)


def test_missing_source_is_an_error() -> None:
    _, report = parse_tables("v3", {"pregnancy": [{"drug": "华法林", "message": "致畸", "source": ""}]})
    assert [(e["table"], e["field"]) for e in report.errors] == [("pregnancy", "source")]


def test_round_trip_and_new_version_reloads(ck: CompiledKnowledge) -> None:
    names = {p.facts.generic_name for p in ck.profiles.values()}
    kb = load_sample(names)
    tables = kb_to_tables(kb)
    again, report = parse_tables("v2", tables, names)
    assert again is not None and report.ok and again.counts() == kb.counts()
    # A new version with one more interaction: recompiled, the engine sees it at once.
    added, _ = parse_tables("v3", {"interactions": [{"a": "氨氯地平", "b": "对乙酰氨基酚", "level": "major",
                                                     "message": "test", "source": "test"}]}, names, base=kb)  # fmt: skip
    assert added is not None
    body = rx_body(items=[{"item_code": "YP000174", "dose": 5, "dose_unit": "mg", "frequency": "qd", "route": "oral", "days": 3,
                           "quantity": 3},
                          {"item_code": "YP000077", "dose": 0.5, "dose_unit": "g", "frequency": "tid", "route": "oral", "days": 3,
                           "quantity": 9}])  # fmt: skip
    rx = ScreeningIn().load(body)
    assert "DDI_MAJOR" not in {x.code for x in screen(rx, ck, SeverityPolicy(), {}, NOW).findings}
    new = compile_knowledge(added, ck.formulary)
    result = screen(rx, new, SeverityPolicy(), {}, NOW)
    assert "DDI_MAJOR" in {x.code for x in result.findings} and result.knowledge_version == "v3"


ITEM_CODES = [f"YP{n:06d}" for n in range(1, 545)] + ["HC000001", "XX000000"]
item = st.fixed_dictionaries({
    "item_code": st.sampled_from(ITEM_CODES),
    "dose": st.one_of(st.none(), st.floats(min_value=0.001, max_value=5000), st.just("遵医嘱")),
    "dose_unit": st.one_of(st.none(), st.sampled_from(["mg", "g", "μg", "IU", "万单位", "ml", "片", "粒", "支", "袋", "xyz"])),
    "frequency": st.one_of(st.none(), st.sampled_from(FREQUENCIES), st.just("遵医嘱")),
    "route": st.one_of(st.none(), st.sampled_from(ROUTES)),
    "days": st.one_of(st.none(), st.integers(min_value=1, max_value=366)),
    "quantity": st.one_of(st.none(), st.floats(min_value=0.5, max_value=1000)),
})  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(item, min_size=1, max_size=8),
    age=st.one_of(st.none(), st.floats(min_value=0, max_value=110)),
    weight=st.one_of(st.none(), st.floats(min_value=0.5, max_value=200)),
    rx_type=st.sampled_from(["outpatient", "emergency", "long_term", "inpatient"]),
    site=st.sampled_from(["CW-H01", "CW-T01", "CW-T01-V01"]),
    flags=st.tuples(st.booleans(), st.booleans()),
    allergies=st.lists(st.sampled_from(["青霉素", "头孢", "磺胺类过敏", "花粉", "阿司匹林"]), max_size=3),
    diagnoses=st.lists(st.sampled_from(["I10", "J02.9", "J45.900", "E11.9", "K25.0", "N18.5", "C34.9", "O26.9"]), max_size=4),
)
def test_any_valid_request_screens_and_outcome_follows_findings(ck: CompiledKnowledge, items: list[dict[str, Any]], age: Any,
                                                                 weight: Any, rx_type: str, site: str, flags: Any,
                                                                 allergies: list[str], diagnoses: list[str]) -> None:
    body = rx_body(type=rx_type, site_code=site, items=items)
    body["patient"].update(age_years=age, weight_kg=weight, pregnant=flags[0], lactating=flags[1], allergies=allergies,
                           diagnoses=[{"code": d} for d in diagnoses])  # fmt: skip
    result = screen(ScreeningIn().load(body), ck, SeverityPolicy(), {}, NOW)
    worst = max((SEVERITY_RANK[x.severity] for x in result.findings), default=-1)
    expected = "block" if worst == 3 else "review" if worst >= 1 else "pass"
    assert result.outcome == expected
    assert all(x.item_index is None or 0 <= x.item_index < len(items) for x in result.findings)
