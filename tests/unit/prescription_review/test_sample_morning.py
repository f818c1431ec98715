"""The demo's sample morning is never issued in the future, whatever the hour `make demo` runs at."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.prescription_review.sample_morning import morning
from services.prescription_review.schemas import ScreeningIn

SHANGHAI = ZoneInfo("Asia/Shanghai")
SITES = ["CW-H01", "CW-T01"]


def _issued(bodies: list[dict]) -> list[datetime]:
    return [datetime.fromisoformat(b["issued_at"]) for b in bodies]


@pytest.mark.parametrize("n", [1, 120, 200])
def test_before_eight_the_morning_ends_at_now(n: int) -> None:
    now = datetime(2026, 11, 30, 6, 30, tzinfo=SHANGHAI)
    issued = _issued(morning(SITES, n=n, now=now))
    assert len(issued) == n
    assert all(t <= now for t in issued)
    assert max(issued) == now  # ends at the clock, spread over the hours before it
    assert issued == sorted(issued) and len(set(issued)) == n


def test_after_the_morning_it_runs_from_eight() -> None:
    now = datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)
    issued = _issued(morning(SITES, n=200, now=now))
    assert min(issued) == datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI)
    assert max(issued) == datetime(2026, 11, 30, 11, 28, 57, tzinfo=SHANGHAI)


def test_mid_morning_ends_at_now() -> None:
    now = datetime(2026, 11, 30, 9, 15, tzinfo=SHANGHAI)
    issued = _issued(morning(SITES, n=200, now=now))
    assert all(t <= now for t in issued) and max(issued) == now
    assert max(issued) - min(issued) == timedelta(seconds=63 * 199)


def test_the_real_clock_morning_passes_the_screening_schema() -> None:
    """What `make demo` posts: every body loads (no 'in the future' on issued_at) at the current hour."""
    for body in morning(SITES, n=120):
        ScreeningIn().load(body)


@pytest.mark.parametrize("minutes_after_midnight", [0, 1, 23, 90])
@pytest.mark.parametrize("n", [1, 40, 120])
def test_just_after_midnight_every_prescription_is_issued_today(minutes_after_midnight: int, n: int) -> None:
    """A prescription is valid on the day it is issued: at 00:23 in the county (16:23 UTC) the morning
    must not begin yesterday evening (it did: the review queue of the demo stayed empty)."""
    now = datetime(2026, 12, 7, 0, 0, tzinfo=SHANGHAI) + timedelta(minutes=minutes_after_midnight)
    issued = _issued(morning(SITES, n=n, now=now))
    assert len(issued) == n and issued == sorted(issued)
    assert all(t.astimezone(SHANGHAI).date() == now.date() and t <= now for t in issued)


def test_a_machine_clock_in_utc_still_makes_a_county_morning() -> None:
    """`now` on another zone's clock (the machine's, UTC) is read on the county's clock."""
    now_utc = datetime(2026, 12, 6, 16, 23, tzinfo=ZoneInfo("UTC"))  # 00:23 on 7 December in Shanghai
    issued = _issued(morning(SITES, n=40, now=now_utc))
    assert all(t.astimezone(SHANGHAI).date() == datetime(2026, 12, 7).date() for t in issued)
