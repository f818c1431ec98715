"""The formulary's pure rules: codes, search keys, item and site checks."""

from __future__ import annotations

from services.formulary.codes import (
    DEFAULT_NHSA_CONSUMABLE_PATTERN,
    DEFAULT_NHSA_DRUG_PATTERN,
    uscc_check_char,
    uscc_valid,
)
from services.formulary.model import Rules, item_problems, merge_item, site_problems
from shared.pinyin_readings import pinyin_full, pinyin_initials
from shared.search import item_keys
from shared.web.problems import flatten_messages

RULES = Rules(DEFAULT_NHSA_DRUG_PATTERN, DEFAULT_NHSA_CONSUMABLE_PATTERN)


def test_unified_social_credit_code_check_character() -> None:
    assert uscc_valid("91350100M000100Y43")  # a published example code
    assert not uscc_valid("91350100M000100Y44")
    assert not uscc_valid("91350100M000100Y4")
    assert not uscc_valid("9135010OM000100Y43")  # O is not in the alphabet
    first17 = "12371723MB0001234"
    assert uscc_valid(first17 + uscc_check_char(first17))


def test_pinyin_keys() -> None:
    assert pinyin_initials("阿莫西林") == "amxl"
    assert pinyin_initials("维生素B12") == "wssb12"
    assert pinyin_full("阿莫西林") == "amoxilin"
    haystack = item_keys({"code": "YP1", "generic_name": "硝苯地平", "generic_name_en": "Nifedipine", "trade_name": None}).text
    assert "xbdp" in haystack and "nifedipine" in haystack and "yp1" in haystack


def drug(**overrides: object) -> dict[str, object]:
    """A valid drug as the rules see it."""
    item = {"kind": "drug", "dosage_form": "片剂", "nhsa_code": "XC08CAX075A001010104321", "atc_code": "C08CA05",
            "vbp": False, "approval_no": "国药准字H10970063", "antibiotic_tier": "none", "controlled": "none"}  # fmt: skip
    item.update(overrides)
    return item


def test_item_rules_name_the_field() -> None:
    assert item_problems(drug(), RULES) == {}
    assert set(item_problems(drug(nhsa_code="X123"), RULES)) == {"nhsa_code"}
    assert set(item_problems(drug(atc_code="C08"), RULES)) == {"atc_code"}
    assert set(item_problems(drug(dosage_form=None), RULES)) == {"dosage_form"}
    assert set(item_problems(drug(vbp=True, vbp_batch=None), RULES)) == {"vbp_batch"}
    consumable = drug(kind="consumable", nhsa_code=None, atc_code="C08CA05", antibiotic_tier="special", controlled="narcotic")
    assert set(item_problems(consumable, RULES)) == {"atc_code", "antibiotic_tier", "controlled"}


def test_custom_nhsa_pattern_is_honoured() -> None:
    strict = Rules(r"^X[A-Z0-9]{22}$", DEFAULT_NHSA_CONSUMABLE_PATTERN)
    assert "nhsa_code" in item_problems(drug(nhsa_code="Z" + "A" * 22), strict)


def test_site_rules() -> None:
    first17 = "12371723MB0001234"
    site = {"tax_id": first17 + uscc_check_char(first17), "level": "village",
            "receiving_hours": [{"start": "08:00", "end": "11:30"}, {"start": "14:30", "end": "14:00"}]}  # fmt: skip
    problems = site_problems(site, "county_hospital")
    assert set(problems) == {"parent_code", "receiving_hours.1"}
    assert site_problems({**site, "receiving_hours": []}, "township") == {}


def test_merge_never_changes_the_code() -> None:
    assert merge_item({"code": "A", "strength": "1g"}, {"code": "B", "strength": "2g"}) == {"code": "A", "strength": "2g"}


def test_problem_field_paths() -> None:
    messages = {"stops": {3: {"window": ["bad"]}}, "_schema": ["whole"], "json": {"x": ["y"]}}
    fields = {e["field"] for e in flatten_messages(messages)}
    assert fields == {"stops[3].window", "body", "json.x"}
