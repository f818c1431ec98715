"""The seed catalogue: every row valid, real essential-list names, and the coverage the county needs."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from services.formulary.model import ITEM_FIELDS
from services.formulary.seed.catalogue import CatalogueRow, load_catalogue, validate_row

ROOT = Path(__file__).resolve().parents[3]
NEML_CSV = ROOT.parent / "shared" / "data" / "formulary" / "neml_2026" / "neml_2026_varieties.csv"


@pytest.fixture(scope="module")
def rows() -> list[CatalogueRow]:
    """The whole seed catalogue."""
    return load_catalogue()


@pytest.fixture(scope="module")
def neml() -> dict[str, str]:
    """NEML 2026 variety name -> part (化学药品和生物制品 or 中成药)."""
    with NEML_CSV.open(encoding="utf-8", newline="") as fh:
        return {r["name_cn"]: r["part"] for r in csv.DictReader(fh)}


def _drugs(rows: list[CatalogueRow], essential: bool) -> list[CatalogueRow]:
    """Drug rows with the given essential flag."""
    return [r for r in rows if r.kind == "drug" and r.essential is essential]


def test_every_row_validates(rows: list[CatalogueRow]) -> None:
    problems = [p for r in rows for p in validate_row(r)]
    assert problems == []


def test_codes_are_unique(rows: list[CatalogueRow]) -> None:
    duplicates = [code for code, n in Counter(r.code for r in rows).items() if n > 1]
    assert duplicates == []


def test_as_item_gives_the_api_fields(rows: list[CatalogueRow]) -> None:
    item = rows[0].as_item()
    assert tuple(item) == ITEM_FIELDS
    assert tuple(f.name for f in dataclasses.fields(CatalogueRow)) == ITEM_FIELDS
    assert all(v != "" for r in rows for v in r.as_item().values())


def test_essential_drugs_use_neml_names(rows: list[CatalogueRow], neml: dict[str, str]) -> None:
    essential = _drugs(rows, True)
    assert [r.generic_name for r in essential if r.generic_name not in neml] == []
    assert len(essential) >= 300
    assert sum(1 for r in essential if neml[r.generic_name] == "中成药") >= 60


def test_non_essential_drugs_are_off_the_list(rows: list[CatalogueRow], neml: dict[str, str]) -> None:
    off_list = _drugs(rows, False)
    assert len(off_list) >= 30
    assert [r.generic_name for r in off_list if r.generic_name in neml] == []


def test_consumables_and_logistics_goods(rows: list[CatalogueRow]) -> None:
    consumables = [r for r in rows if r.kind == "consumable" and not r.is_logistics]
    logistics = [r for r in rows if r.is_logistics]
    assert len(consumables) >= 30
    assert len(logistics) >= 12
    assert all(r.atc_code is None and r.antibiotic_tier == "none" for r in consumables + logistics)


def test_special_handling_is_represented(rows: list[CatalogueRow]) -> None:
    drugs = [r for r in rows if r.kind == "drug"]
    assert any(r.storage == "cold" for r in drugs)
    assert any(r.controlled == "narcotic" for r in drugs)
    assert any(r.antibiotic_tier == "special" for r in drugs)
    assert any(r.high_alert for r in drugs)


def test_validate_row_reports_problems(rows: list[CatalogueRow]) -> None:
    drug = next(r for r in rows if r.kind == "drug" and r.atc_code)
    broken = dataclasses.replace(drug, code="X1", atc_code="J01", vbp=True, vbp_batch=None, weight_g=0.0)
    problems = " | ".join(validate_row(broken))
    for expected in ("YP and six digits", "ATC code", "batch", "volume and weight"):
        assert expected in problems
    consumable = next(r for r in rows if r.kind == "consumable" and not r.is_logistics)
    wrong = dataclasses.replace(
        consumable, atc_code="J01CA04", controlled="narcotic", nhsa_code="XC08CAX075A001010104321"
    )
    assert len(validate_row(wrong)) == 3
