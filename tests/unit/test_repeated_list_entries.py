"""Lists where an entry twice means nothing more are refused naming the repeat's index (422).

Found auditing every list input: a distributor's items, a re-plan's locked routes and vehicles out,
the prescriber registry's entries (by id), a doctor's sites and privileges (unbounded: one privilege
100,000 times was accepted), a manufacturer's agents and a requisition approval's lines were taken
with repeats, or refused naming only the list. Stocking lists (item codes, categories) are sets:
repeats are dropped there, harmlessly, and are not refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema

from services.dispatch.schemas import ReplanIn
from services.prescription_review.schemas_work import PrescribersIn
from services.procurement.schemas import ApproveIn
from services.procurement.schemas_purchasing import DistributorIn, ManufacturerIn
from shared.web.problems import flatten_messages

TAX = "913700007628000001"
CASES: list[tuple[type[Schema], Any, str]] = [
    (DistributorIn, lambda xs: {"name": "x", "tax_id": TAX, "items": xs}, "items[{i}]"),
    (ReplanIn, lambda xs: {"locked_routes": xs}, "locked_routes[{i}]"),
    (ReplanIn, lambda xs: {"vehicles_out": xs}, "vehicles_out[{i}]"),
    (PrescribersIn, lambda xs: {"entries": [{"id": x, "name": "医生"} for x in xs]}, "entries[{i}].id"),
    (PrescribersIn, lambda xs: {"entries": [{"id": "D1", "name": "医生", "sites": xs}]}, "entries[0].sites[{i}]"),
    (ManufacturerIn, lambda xs: {"name": "m", "tax_id": TAX, "agents": [
        {"name": "a", "tax_id": f"91370000762800{x[-4:]:0>4}", "kind": "import_agent"} for x in xs]}, "agents[{i}].tax_id"),
    (ApproveIn, lambda xs: {"lines": [{"item_code": x, "approved_quantity": 1} for x in xs]}, "lines[{i}].item_code"),
]  # fmt: skip
NAMES = st.lists(st.sampled_from(["YP1001", "YP1002", "YP1003", "YP1004"]), min_size=1, max_size=8)


@pytest.mark.parametrize(("schema", "make", "where"), CASES, ids=[f"{c[0].__name__}:{c[2]}" for c in CASES])
@given(names=NAMES)
def test_a_repeat_is_refused_naming_exactly_its_index(schema: type[Schema], make: Any, where: str, names: list[str]) -> None:
    errors = schema().validate(make(names))
    named = sorted(e["field"] for e in flatten_messages(errors))
    repeats = sorted(where.format(i=i) for i, x in enumerate(names) if x in names[:i])
    assert named == repeats, (names, errors)


def test_a_doctors_privileges_are_bounded_and_each_once() -> None:
    body = {"entries": [{"id": "D1", "name": "x", "privileges": ["prescribe"] * 100_000}]}
    assert [e["field"] for e in flatten_messages(PrescribersIn().validate(body))] == ["entries[0].privileges"]
    body = {"entries": [{"id": "D1", "name": "x", "privileges": ["prescribe", "narcotic", "prescribe"]}]}
    assert [e["field"] for e in flatten_messages(PrescribersIn().validate(body))] == ["entries[0].privileges[2]"]


def test_a_manufacturer_is_not_its_own_agent() -> None:
    body = {"name": "m", "tax_id": TAX, "agents": [{"name": "m", "tax_id": TAX.lower(), "kind": "sales_subsidiary"}]}
    assert [e["field"] for e in flatten_messages(ManufacturerIn().validate(body))] == ["agents[0].tax_id"]


def test_a_repeated_doctor_in_a_csv_names_its_entry() -> None:
    errors = PrescribersIn().validate({"csv": "id,name\nD1,张\nD2,李\nD1,王\n"})
    assert [e["field"] for e in flatten_messages(errors)] == ["entries[2].id"]
