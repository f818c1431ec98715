"""Every solve request the schema accepts builds a routing problem (no input it accepts gives a 5xx).

Found trying /solve as a dispatcher: a vehicle named twice in ``locked_routes``, or a stop named
twice in ``initial_routes`` (in one route or two), passed the schema and the core refused the
problem (ValueError, a 500). The property test draws locks, warm starts and locked routes from
small id pools so repeats, unknown ids and clashes are common.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from services.dispatch import solving
from services.dispatch.planning import to_problem
from services.dispatch.schemas import SolveIn
from shared.errors import InvalidInput

STOPS = ["A", "B", "C", "D"]
VEHICLES = ["V1", "V2"]


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "depot": {"id": "H", "lat": 34.95, "lon": 115.89, "open": "07:00", "close": "19:00"},
        "vehicles": [{"id": v, "compartments": {"ambient": 100}, "shift": ["07:30", "17:30"]} for v in VEHICLES],
        "stops": [{"id": s, "lat": 34.95 + 0.01 * i, "lon": 115.9, "deliver": {"ambient": 1}} for i, s in enumerate(STOPS)],
        "options": {"time_limit_s": 0.5},
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"locked_routes": ["V1", "V1"], "initial_routes": {"V1": ["A"]}}, "locked_routes"),
        ({"initial_routes": {"V1": ["A", "A"]}}, "initial_routes"),
        ({"initial_routes": {"V1": ["A"], "V2": ["A"]}, "locked_routes": ["V1", "V2"]}, "initial_routes"),
    ],
)
def test_repeated_vehicles_or_stops_in_warm_starts_are_refused_naming_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SolveIn().load(_body(**extra))
    assert field in refused.value.messages


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    locks=st.dictionaries(st.sampled_from(STOPS + ["X"]), st.sampled_from(VEHICLES + ["W"]), max_size=3),
    initial=st.none() | st.dictionaries(st.sampled_from(VEHICLES + ["W"]), st.lists(st.sampled_from(STOPS + ["X"]), max_size=5), max_size=3),
    locked=st.lists(st.sampled_from(VEHICLES + ["W"]), max_size=3),
)
def test_any_accepted_request_builds_a_problem(locks: dict[str, str], initial: dict[str, list[str]] | None, locked: list[str]) -> None:
    try:
        request = SolveIn().load(_body(locks=locks, initial_routes=initial, locked_routes=locked))
    except ValidationError:
        return
    problem = to_problem(request)  # raises ValueError for a problem the core refuses
    with contextlib.suppress(InvalidInput):  # the lock screen answers a 4xx or nothing, never a crash
        solving.screen_request(request, problem)


def test_a_lock_refusal_never_prints_a_clock_time_past_24_00() -> None:
    """Found trying locks: "cannot get there after S3 before 29:16"."""
    from services.dispatch.locks import _clock

    assert _clock(8 * 3600 + 5 * 60) == "08:05"
    assert _clock(29 * 3600 + 16 * 60) == "次日 05:16 (+1 d)"
    body = _body(initial_routes={"V1": ["A", "B"]}, locked_routes=["V1"])
    body["vehicles"][0]["shift"] = ["07:30", "23:59"]
    body["stops"][1] = {**body["stops"][1], "lat": 38.5, "window": ["08:00", "09:00"]}  # ~400 km away, closes at 09:00
    request = SolveIn().load(body)
    with pytest.raises(InvalidInput) as refused:
        solving.screen_request(request)
    text = " ".join(refused.value.fields.values())
    assert not any(f"{h}:" in text for h in range(24, 72))
