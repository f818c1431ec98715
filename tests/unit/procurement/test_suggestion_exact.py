"""The suggested order is computed exactly: no float rounding adds a package."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from services.procurement.model.stocking import suggest_order


def test_average_times_days_that_is_whole_is_not_rounded_up() -> None:
    # 29 units in 7 days, 2 days' lead time + 5 safety days: target exactly 29 (floats made it 30)
    s = suggest_order("A", on_hand=5, on_order=0, consumed=29, window_days=7, lead_time_days=2, safety_days=5, package_size=24)
    assert (s.target, s.suggested) == (29, 24)


@settings(max_examples=400, deadline=None)
@given(
    on_hand=st.integers(-1000, 10_000), on_order=st.integers(0, 10_000), consumed=st.integers(0, 100_000),
    window=st.integers(1, 120), lead=st.integers(0, 30), safety=st.integers(0, 60), pack=st.integers(1, 500),
)  # fmt: skip
def test_suggestion_is_the_order_up_to_rule_in_whole_packages(
    on_hand: int, on_order: int, consumed: int, window: int, lead: int, safety: int, pack: int
) -> None:
    s = suggest_order("A", on_hand, on_order, consumed, window, lead, safety, pack)
    target = math.ceil(Fraction(consumed, window) * (lead + safety))
    gap = target - on_hand - on_order
    assert s.target == target
    assert s.suggested % pack == 0 and s.suggested >= 0
    assert s.suggested == (0 if gap <= 0 else -(-gap // pack) * pack)
