"""Routing core of the dispatch service: problem model, OR-Tools solver, independent checker.

Framework-free: no Flask, no SQLAlchemy. Typical use::

    from services.dispatch.routing import Problem, Stop, Vehicle, solve, check
    solution = solve(problem, progress=lambda seconds, objective: ...)
    assert check(problem, solution).ok
"""

from .checker import CheckReport, RouteFigures, Violation, check
from .problem import (
    AMBIENT,
    CLEAN,
    COLD,
    CONFIG_TEXTBOOK,
    CONFIG_TUNED,
    COUNTY_COMPARTMENTS,
    LOAD,
    SOILED,
    SPECIMEN,
    Break,
    Options,
    Priority,
    Problem,
    Stop,
    TimeWindow,
    Vehicle,
)
from .solution import Route, Solution, SolveStats, Unassigned, Visit
from .solver import solve

__all__ = [
    "AMBIENT", "CLEAN", "COLD", "CONFIG_TEXTBOOK", "CONFIG_TUNED", "COUNTY_COMPARTMENTS", "LOAD", "SOILED",
    "SPECIMEN", "Break", "CheckReport", "Options", "Priority", "Problem", "Route", "RouteFigures", "Solution",
    "SolveStats", "Stop", "TimeWindow", "Unassigned", "Vehicle", "Violation", "Visit", "check", "solve",
]
