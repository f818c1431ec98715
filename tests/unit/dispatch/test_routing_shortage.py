"""The time bound of routing/shortage.py reads the duration matrix a chunk of columns at a time; the
sum of shortest drives in is the same whatever the chunk."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.routing.shortage import _shortest_drives_in


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(2, 40), seed=st.integers(0, 10_000), chunk=st.integers(1, 50), data=st.data())
def test_shortest_drives_in_do_not_depend_on_the_chunk(n: int, seed: int, chunk: int, data: st.DataObject) -> None:
    duration = np.random.default_rng(seed).integers(0, 10_000, size=(n, n), dtype=np.int32)
    nodes = np.array(sorted(data.draw(st.sets(st.integers(1, n - 1), min_size=1))))
    expected = sum(min(int(duration[i, j]) for i in range(n) if i != j) for j in nodes)
    assert _shortest_drives_in(duration, nodes, chunk=chunk) == expected
