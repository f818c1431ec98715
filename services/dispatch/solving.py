"""The synchronous solve (POST /api/v1/solve) and the lock screen every plan passes before it is
solved or queued."""

from __future__ import annotations

from typing import Any

from services.dispatch.locks import LockProblem, screen_locks
from services.dispatch.planning import PlanCheckFailed, solve_request, to_problem
from services.dispatch.routing.problem import Problem
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput

SOLVE_MAX_S = 60  # a synchronous solve holds an API worker; long plans go through /plans


def screen_request(request: dict[str, Any], problem: Problem | None = None) -> Problem:
    """Refuse locks no vehicle could keep, before anything is solved or queued (InvalidInput names them)."""
    problem = problem or to_problem(request)
    problems: list[LockProblem] = screen_locks(request, problem)
    if problems:
        first = problems[0]
        raise InvalidInput(f"{first.field}: {first.reason}", {p.field: p.reason for p in problems})
    return problem


def solve_now(actor: Principal, request: dict[str, Any]) -> dict[str, Any]:
    """A self-contained problem solved synchronously (SolveIn's loaded form) and checked.

    InvalidInput for a time limit over SOLVE_MAX_S or a lock that cannot hold; Conflict if the
    independent checker refuses the solver's plan (never shown)."""
    actor.require("dispatcher", "his")
    if request["options"]["time_limit_s"] > SOLVE_MAX_S:
        raise InvalidInput(f"a synchronous solve takes at most {SOLVE_MAX_S} s; queue longer ones with POST /api/v1/plans",
                           {"options.time_limit_s": f"at most {SOLVE_MAX_S}"})  # fmt: skip
    problem = screen_request(request)
    try:
        return solve_request(request, problem=problem)
    except PlanCheckFailed as exc:
        raise Conflict(f"the solver's plan failed the feasibility check: {exc}") from exc
