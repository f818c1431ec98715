"""Documented ranges of every number a Problem may carry, and the integer scaling that keeps the
OR-Tools model inside int64 for any input within them.

The schema (services/dispatch/schemas.py) validates API input against these constants; the
routing core accepts anything, and divides costs and penalties by ``Screening.cost_divisor`` so the
model's worst-case objective stays below ``MAX_MODEL_OBJECTIVE`` (2^53: exact in int64 and in the
search's float arithmetic). A property test (tests/unit/dispatch/test_routing_limits.py) builds and
solves problems at the edges of these ranges.

Units: times in seconds after midnight, distances in metres, costs in fen (any cost unit works),
volumes in millilitres; ``Units`` says how reasons speak them back in the caller's units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # problem.py imports Units from here
    from .problem import Problem

TIME_MAX = 2 * 24 * 3600  # latest moment (s) of any shift, window or break: end of the next day
SERVICE_MAX = 24 * 3600  # longest service at one stop (s)
BREAK_MAX = 12 * 3600  # longest break (s)
ARC_DISTANCE_MAX = 50_000_000  # longest arc (m): more than any road distance on Earth
ARC_DURATION_MAX = 30 * 24 * 3600  # longest arc (s)
FIXED_COST_MAX = 10**15  # fixed cost of using a vehicle (fen)
COST_PER_KM_MAX = 10**12  # cost per 1000 distance units (fen per km)
DROP_PENALTY_BASE_MAX = 10**15  # Options.drop_penalty_base (fen)
DEMAND_MAX = 10**9  # one stop's delivery or pickup in one compartment (millilitres in the service, or units)
CAPACITY_MAX = 10**9  # one compartment of one vehicle
STOPS_MAX = 5_000
VEHICLES_MAX = 500

MAX_MODEL_OBJECTIVE = 2**53


def worst_objective(problem: Problem, penalties: Mapping[int, int]) -> int:
    """An upper bound (exact Python integers) on any objective the model can compute: every stop
    dropped plus every vehicle used on a route of n+1 arcs of the longest arc."""
    n = len(problem.stops)
    longest = int(problem.distance.max()) if problem.distance.size else 0
    total = sum(penalties.values())
    for v in problem.vehicles:
        total += v.fixed_cost + (n + 1) * (longest * v.cost_per_km // 1000 + 1)
    return total


def divisor_for(worst: int) -> int:
    """Smallest divisor bringing ``worst`` to at most MAX_MODEL_OBJECTIVE (1 when it already is)."""
    return 1 if worst <= MAX_MODEL_OBJECTIVE else -(-worst // MAX_MODEL_OBJECTIVE)


@dataclass(frozen=True)
class Units:
    """How reasons speak the problem's integers in the caller's units (issue 8 §3: a reason a
    dispatcher reads says "99.99 L", "16.2 min", "09:30", "14.5 km", never raw model integers).

    The default speaks bare integers (benchmark instances have no units)."""

    volume: str = ""  # reporting volume unit ("L" in the service)
    volume_scale: int = 1  # integer volume units per reporting unit (1000: millilitres per litre)
    distance: str = ""  # reporting distance unit ("km"); integers are divided by Problem.distance_scale
    clock: bool = False  # times are seconds after midnight: durations in minutes, moments as HH:MM

    def volume_text(self, amount: int) -> str:
        """``amount`` integer volume units in the reporting unit, exact (no rounding)."""
        if not self.volume:
            return str(amount)
        whole, rest = divmod(abs(amount), self.volume_scale)
        digits = len(str(self.volume_scale)) - 1
        frac = f"{rest:0{digits}d}".rstrip("0") if digits else ""
        return f"{'-' if amount < 0 else ''}{whole}{'.' + frac if frac else ''} {self.volume}"

    def duration_text(self, t: int, bare: str = "") -> str:
        """A length of time: minutes (to 0.1 min) when times are seconds, else the integer and ``bare``."""
        return f"{_tenths(t / 60)} min" if self.clock else f"{t}{bare}"

    def clock_text(self, t: int) -> str:
        """A moment: HH:MM when times are seconds after midnight (+1d past midnight), else the integer."""
        if not self.clock:
            return str(t)
        day, rest = divmod(int(t) // 60, 24 * 60)
        return f"{rest // 60:02d}:{rest % 60:02d}" + (f"+{day}d" if day else "")

    def distance_text(self, d: int, scale: float) -> str:
        """A distance of ``d`` integer units (``scale`` per reporting unit), to 0.1 of the unit."""
        return f"{_tenths(d / scale)} {self.distance}" if self.distance else str(d)


def _tenths(x: float) -> str:
    return f"{x:.1f}".removesuffix(".0")
