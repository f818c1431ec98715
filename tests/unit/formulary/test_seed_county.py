"""The sample-county generator and the default stocking lists."""

from __future__ import annotations

from typing import Any

import pytest

from services.formulary.codes import USCC_ALPHABET, uscc_valid
from services.formulary.seed.county import CHENGWU_BOUNDS, County, Site, default_rounds, generate_county
from services.formulary.seed.stocklists import default_stocklists


@pytest.fixture(scope="module")
def chengwu() -> County:
    """The default 成武县 county."""
    return generate_county()


@pytest.fixture(scope="module")
def rizhao_scale() -> County:
    """A generated county at Rizhao's scale."""
    return generate_county("generated", seed=7, townships=55, clinics=1583)


def _inside(site: Site, bounds: tuple[float, float, float, float]) -> bool:
    south, north, west, east = bounds
    return south <= site.lat <= north and west <= site.lon <= east


def test_chengwu_counts_and_hub(chengwu: County) -> None:
    assert len(chengwu.by_level("county_hospital")) == 3
    assert len(chengwu.by_level("township")) == 13
    assert len(chengwu.by_level("village")) == 105
    assert len(chengwu.sites) == 121
    hubs = [s for s in chengwu.sites if s.is_hub]
    assert hubs == [chengwu.hub] == [chengwu.sites[0]]
    assert chengwu.hub.name == "成武县人民医院" and chengwu.hub.code == "CW-H01"
    assert chengwu.division_code == "371723"
    assert len({s.code for s in chengwu.sites}) == 121
    assert "成武县文亭街道社区卫生服务中心" in {s.name for s in chengwu.sites}
    assert "成武县大田集镇卫生院" in {s.name for s in chengwu.sites}


def test_township_spread_is_eight_plus_minus_two(chengwu: County) -> None:
    for township in chengwu.by_level("township"):
        assert 6 <= len(chengwu.children(township.code)) <= 10


def test_tax_ids_valid_unique_and_check_char_matters(chengwu: County) -> None:
    ids = [s.tax_id for s in chengwu.sites]
    assert all(uscc_valid(t) and t.startswith("12371723") for t in ids)
    assert len(set(ids)) == len(ids)
    good = ids[0]
    wrong = USCC_ALPHABET[(USCC_ALPHABET.index(good[-1]) + 1) % len(USCC_ALPHABET)]
    assert not uscc_valid(good[:-1] + wrong)


def test_hierarchy(chengwu: County) -> None:
    levels = {s.code: s.level for s in chengwu.sites}
    for site in chengwu.sites:
        if site.level == "village":
            assert site.parent_code and levels[site.parent_code] == "township"
            assert site.code.startswith(site.parent_code + "-V")
        elif site.level == "township":
            assert site.parent_code == chengwu.hub.code
        else:
            assert site.parent_code is None


def test_coordinates_inside_bounds(chengwu: County) -> None:
    assert chengwu.bounds == CHENGWU_BOUNDS
    assert all(_inside(s, CHENGWU_BOUNDS) for s in chengwu.sites)
    assert all(round(s.lat, 6) == s.lat and round(s.lon, 6) == s.lon for s in chengwu.sites)


def test_receiving_windows_well_formed(chengwu: County) -> None:
    for site in chengwu.sites:
        windows = site.receiving_hours
        assert windows
        for start, end in windows:
            assert len(start) == len(end) == 5 and start < end
        for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
            assert end < start  # sorted and non-overlapping


def test_determinism(chengwu: County) -> None:
    assert generate_county(seed=2026) == chengwu
    other = generate_county(seed=2027)
    assert [(s.lat, s.lon) for s in other.sites] != [(s.lat, s.lon) for s in chengwu.sites]


def test_rizhao_scale_counts_bounds_and_determinism(rizhao_scale: County) -> None:
    assert len(rizhao_scale.by_level("township")) == 55
    assert len(rizhao_scale.by_level("village")) == 1583
    assert rizhao_scale.division_code == "371799"
    assert all(_inside(s, rizhao_scale.bounds) for s in rizhao_scale.sites)
    ids = [s.tax_id for s in rizhao_scale.sites]
    assert len(set(ids)) == len(ids) and all(uscc_valid(t) for t in ids)
    assert len({s.name for s in rizhao_scale.sites}) == len(rizhao_scale.sites)
    again = generate_county("generated", seed=7, townships=55, clinics=1583)  # timed in bench/formulary.py
    assert again == rizhao_scale


def test_default_rounds(chengwu: County) -> None:
    assert default_rounds(chengwu.hub) == {}
    assert set(default_rounds(chengwu.site("CW-H02")).values()) == {"daily"}
    assert default_rounds(chengwu.by_level("township")[0])["specimens"] == "daily"
    assert default_rounds(chengwu.by_level("village")[0]) == {
        "linen": "weekly",
        "instruments": "weekly",
        "specimens": "twice_weekly",
    }


def _item(code: str, **fields: Any) -> dict[str, Any]:
    base = {
        "code": code,
        "kind": "drug",
        "essential": True,
        "controlled": "none",
        "antibiotic_tier": "none",
        "dosage_form": "片剂",
        "category": None,
    }
    return base | fields


ITEMS = [
    _item("AMOX", antibiotic_tier="unrestricted", dosage_form="胶囊剂"),
    _item("MORPH", controlled="narcotic", dosage_form="注射液"),
    _item("MIDAZ", controlled="psychotropic_1", dosage_form="注射液"),
    _item("DIAZ", controlled="psychotropic_2"),
    _item("MEROP", antibiotic_tier="special", dosage_form="注射用无菌粉末"),
    _item("CEFTR", antibiotic_tier="restricted", dosage_form="注射用无菌粉末"),
    _item("LEVO", antibiotic_tier="restricted", dosage_form="片剂"),
    _item("ATORV", essential=False),
    _item("GLOVE", kind="consumable", essential=False, dosage_form=None, category="医用耗材"),
    _item("LINEN", kind="consumable", essential=False, dosage_form=None, category="logistics"),
]


def test_stocklist_rules(chengwu: County) -> None:
    lists = default_stocklists(ITEMS, chengwu)
    county, township, village = (lists[f"level:{lvl}"] for lvl in ("county_hospital", "township", "village"))
    assert county == [i["code"] for i in ITEMS]
    assert set(village) <= set(township) <= set(county)
    assert not {"MORPH", "MIDAZ", "MEROP"} & set(township)
    assert {"DIAZ", "CEFTR", "ATORV"} <= set(township)
    assert village == ["AMOX", "LEVO", "GLOVE", "LINEN"]
