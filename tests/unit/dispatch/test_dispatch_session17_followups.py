"""Follow-ups of session 17's fresh-eyes faults: time ranges that are empty say so (not "ends before
it starts"), compartment names take their article, split parts are whole millilitres and add up
to the order exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from services.dispatch.model import VOLUME_SCALE, DayStop, SiteInfo, split_oversized
from services.dispatch.schemas import BreakIn, VehicleIn
from services.dispatch.time_ranges import out_of_order

SITE = SiteInfo("CW-T03", "大田集镇卫生院", "township", 34.9, 115.9, (("08:00", "11:30"), ("14:00", "17:00")))


def test_an_empty_range_is_called_empty_and_a_reversed_one_reversed() -> None:
    assert out_of_order("00:00", "00:00") == "the window is empty: it opens and closes at 00:00; it must end after it starts"
    assert out_of_order("12:00", "08:00", "shift") == "the shift ends (08:00) before it starts (12:00)"
    assert out_of_order("08:00", "08:01") is None


def test_an_empty_shift_and_an_empty_break_window_are_told_so() -> None:
    with pytest.raises(ValidationError) as refused:
        VehicleIn().load({"id": "V1", "compartments": {"ambient": 100}, "shift": ["07:00", "07:00"]})
    assert refused.value.messages == {"shift": ["the shift is empty: it opens and closes at 07:00; it must end after it starts"]}
    with pytest.raises(ValidationError) as refused:
        BreakIn().load({"window": ["12:00", "11:00"], "minutes": 30})
    assert refused.value.messages == {"window": ["the window ends (11:00) before it starts (12:00)"]}


@settings(max_examples=200, deadline=None)
@given(litres=st.integers(2_001, 200_000).map(lambda ml: ml / 100), cap=st.sampled_from([20.0, 33.3, 100.0, 400.0]))
def test_split_parts_are_whole_millilitres_and_add_up_to_the_order(litres: float, cap: float) -> None:
    stop = DayStop(SITE, {"cold": litres}, {}, ["S1"], [], 2)
    parts = split_oversized(stop, {"cold": cap})
    total_ml = sum(round(p.deliver_l.get("cold", 0.0) * VOLUME_SCALE) for p in parts)
    assert total_ml == round(litres * VOLUME_SCALE)
    for p in parts:
        ml = p.deliver_l.get("cold", 0.0) * VOLUME_SCALE
        assert abs(ml - round(ml)) < 1e-6
        if len(parts) > 1:
            assert p.deliver_l["cold"] <= cap + 1e-9
