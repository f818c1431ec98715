"""Shared builders for small routing problems on a plane (1 distance unit = 1 metre = 1 second)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from services.dispatch.routing import Options, Problem, Stop, Vehicle

DATA = Path(__file__).resolve().parents[2] / "data" / "vrp"
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "vrp"

FAST = Options(time_limit_s=0.6, workers=1)


def _plane_problem(
    depot: tuple[float, float],
    stops: Sequence[tuple[Stop, tuple[float, float]]],
    vehicles: Sequence[Vehicle],
    options: Options = FAST,
    **extra: object,
) -> Problem:
    """Problem whose distances (m) and times (s) are rounded Euclidean distances between points."""
    points = [depot] + [xy for _, xy in stops]
    n = len(points)
    real = np.array([[math.dist(points[i], points[j]) for j in range(n)] for i in range(n)])
    dist = np.rint(real).astype(np.int64)
    return Problem(
        stops=tuple(s for s, _ in stops),
        vehicles=tuple(vehicles),
        distance=dist,
        duration=dist.copy(),
        distance_real=real,
        coords=np.array(points, dtype=float),
        options=options,
        **extra,  # type: ignore[arg-type]
    )


def _van(vid: str, **kw: object) -> Vehicle:
    """A van with a large ambient compartment unless told otherwise."""
    kw.setdefault("capacity", {"ambient": 100})
    return Vehicle(id=vid, **kw)  # type: ignore[arg-type]


@pytest.fixture
def fast() -> Options:
    """Options for sub-second solves in one process."""
    return FAST


@pytest.fixture
def plane() -> Callable[..., Problem]:
    """Builder: plane(depot_xy, [(Stop, xy), ...], [Vehicle, ...], options=FAST, **problem_fields)."""
    return _plane_problem


@pytest.fixture
def van() -> Callable[..., Vehicle]:
    """Factory: van(id, **vehicle_fields) with a 100-unit ambient compartment by default."""
    return _van


@pytest.fixture
def vrp_data() -> Path:
    """Folder with the small benchmark instances copied for the tests."""
    return DATA
