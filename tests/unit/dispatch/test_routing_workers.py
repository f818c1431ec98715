"""How many search processes a solve starts: the request's options.workers, capped by the
ROUTING_MAX_WORKERS setting (default os.cpu_count()), never by the machine alone."""

from __future__ import annotations

import os

import pytest
from test_routing_days import day, van  # same folder (pytest puts it on sys.path)

from services.dispatch.routing import Stop, check, solve, solver
from services.dispatch.routing.solver import MAX_WORKERS_ENV, max_workers


def test_the_setting_caps_the_workers() -> None:
    assert max_workers({MAX_WORKERS_ENV: "3"}) == 3
    assert max_workers({MAX_WORKERS_ENV: " 12 "}) == 12


@pytest.mark.parametrize("raw", ["", "0", "-2", "two", "1.5"])
def test_an_unusable_setting_falls_back_to_the_cpu_count(raw: str) -> None:
    assert max_workers({MAX_WORKERS_ENV: raw}) == (os.cpu_count() or 1)
    assert max_workers({}) == (os.cpu_count() or 1)


@pytest.mark.parametrize(("setting", "asked", "used"), [("1", 2, 1), ("2", 2, 2), ("2", 1, 1), ("2", 0, 2)])
def test_a_solve_uses_the_workers_asked_for_up_to_the_setting(
        monkeypatch: pytest.MonkeyPatch, setting: str, asked: int, used: int) -> None:
    monkeypatch.setenv(MAX_WORKERS_ENV, setting)
    problem = day([(Stop("a"), (2000, 0)), (Stop("b"), (0, 3000))], [van("v", ("07:30", "17:30"))])
    sol = solve(problem.with_options(time_limit_s=0.5, workers=asked))
    assert sol.stats.workers == used
    assert not sol.unassigned


def test_a_first_plan_later_than_the_deadline_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel searches whose first plan comes after the deadline and its grace (an overloaded
    machine) are waited for: a late plan, never an empty one (as with a single worker)."""
    monkeypatch.setattr(solver, "_GRACE_S", 0.0)
    stops = [(Stop(f"s{i}"), (1000.0 * (i % 6), 800.0 * (i // 6))) for i in range(30)]
    problem = day(stops, [van(f"v{k}", ("07:30", "17:30")) for k in range(4)])
    sol = solve(problem.with_options(time_limit_s=0.01, workers=2))
    assert sol.routes, "no plan although the searches found one"
    assert not sol.unassigned
    assert check(problem, sol).ok
