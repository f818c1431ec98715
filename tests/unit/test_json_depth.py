"""shared/web/request_parsing.json_depth (rewritten for speed in issue 11) agrees with the plain
recursive definition on any JSON value."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.web.request_parsing import json_depth

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=40,
)


def reference_depth(value: Any) -> int:
    """A scalar is 0 deep; a list or object is one more than its deepest member."""
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


@given(JSON)
def test_json_depth_matches_the_recursive_definition(value: Any) -> None:
    assert json_depth(value) == reference_depth(value)


def test_a_very_deep_body_is_measured_without_recursion() -> None:
    deep: Any = 1
    for _ in range(50_000):
        deep = [deep]
    assert json_depth(deep) == 50_000
