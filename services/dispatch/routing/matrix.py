"""Travel matrix providers: great-circle estimate, a matrix file, or an OSRM table service.

All return real-valued metres and seconds; ``to_int`` turns them into the Problem's integer units.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8
UNREACHABLE_S = 10**7  # far beyond any shift: a leg OSRM cannot route is never used


class MatrixError(RuntimeError):
    """The provider could not produce a matrix (bad file, service error, wrong size)."""


@dataclass(frozen=True)
class Point:
    """A site on the map; ``road_class`` picks its access speed for GreatCircleMatrix."""

    lat: float
    lon: float
    road_class: str | None = None


@dataclass(frozen=True)
class TravelMatrices:
    """Square real-valued matrices over the given points (index 0 is usually the depot)."""

    distance_m: npt.NDArray[np.float64]
    duration_s: npt.NDArray[np.float64]

    def to_int(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Integer metres (rounded) and seconds (rounded up, so plans are never optimistic)."""
        return (np.rint(self.distance_m).astype(np.int64), np.ceil(self.duration_s - 1e-9).astype(np.int64))


class MatrixProvider(Protocol):
    """Anything that can produce travel matrices for a list of points."""

    def matrices(self, points: Sequence[Point]) -> TravelMatrices:
        """Distances and durations between every pair of points."""
        ...


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class GreatCircleMatrix:
    """Haversine distance x circuity factor; time at a speed per road class (slower end of the leg)."""

    def __init__(self, circuity: float = 1.3, speed_kmh: float = 40.0,
                 road_speeds_kmh: Mapping[str, float] | None = None) -> None:
        if circuity < 1.0 or speed_kmh <= 0:
            raise ValueError("circuity must be >= 1 and speed positive")
        self.circuity = circuity
        self.speed_kmh = speed_kmh
        self.road_speeds_kmh = dict(road_speeds_kmh or {})

    def _speed(self, p: Point) -> float:
        return self.road_speeds_kmh.get(p.road_class or "", self.speed_kmh)

    def matrices(self, points: Sequence[Point]) -> TravelMatrices:
        """Estimated road distances and driving times."""
        lat = np.radians(np.array([p.lat for p in points], dtype=np.float64))
        lon = np.radians(np.array([p.lon for p in points], dtype=np.float64))
        dlat = lat[:, None] - lat[None, :]
        dlon = lon[:, None] - lon[None, :]
        h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
        dist = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))) * self.circuity
        speeds = np.array([self._speed(p) for p in points], dtype=np.float64)
        leg_speed_ms = np.minimum(speeds[:, None], speeds[None, :]) / 3.6
        return TravelMatrices(dist, dist / leg_speed_ms)


class MatrixFile:
    """Matrices read from JSON ``{"distances": [[m]], "durations": [[s]]}`` or CSV rows
    ``from,to,distance_m,duration_s`` (0-based point indices)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def matrices(self, points: Sequence[Point]) -> TravelMatrices:
        """Load the file and check it covers exactly the given points."""
        n = len(points)
        if self.path.suffix.lower() == ".json":
            data = json.loads(self.path.read_text())
            dist = np.array(data["distances"], dtype=np.float64)
            dur = np.array(data["durations"], dtype=np.float64)
        else:
            dist = np.full((n, n), np.nan)
            dur = np.full((n, n), np.nan)
            with self.path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    i, j = int(row["from"]), int(row["to"])
                    if not (0 <= i < n and 0 <= j < n):
                        raise MatrixError(f"{self.path}: index {i},{j} outside {n} points")
                    dist[i, j], dur[i, j] = float(row["distance_m"]), float(row["duration_s"])
            np.fill_diagonal(dist, 0.0)
            np.fill_diagonal(dur, 0.0)
        if dist.shape != (n, n) or dur.shape != (n, n) or np.isnan(dist).any() or np.isnan(dur).any():
            raise MatrixError(f"{self.path}: need a complete {n}x{n} matrix")
        return TravelMatrices(dist, dur)


Fetch = Callable[[str], Mapping[str, Any]]


class OsrmTable:
    """OSRM ``/table`` service; ``fetch(url) -> dict`` is injectable so tests use a recorded answer."""

    def __init__(self, base_url: str = "http://localhost:5000", profile: str = "driving",
                 fetch: Fetch | None = None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.fetch = fetch or (lambda url: _http_get_json(url, timeout_s))

    def url(self, points: Sequence[Point]) -> str:
        """Table request for all points (OSRM wants lon,lat pairs)."""
        coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
        return f"{self.base_url}/table/v1/{self.profile}/{coords}?annotations=duration,distance"

    def matrices(self, points: Sequence[Point]) -> TravelMatrices:
        """Ask the service and parse its answer; unroutable legs become very long."""
        return parse_osrm_table(self.fetch(self.url(points)), len(points))


def parse_osrm_table(data: Mapping[str, Any], n: int) -> TravelMatrices:
    """Turn an OSRM table response into matrices (null entries = unreachable)."""
    if data.get("code") != "Ok":
        raise MatrixError(f"OSRM error: {data.get('code')} {data.get('message', '')}".strip())
    durations, distances = data.get("durations"), data.get("distances")
    if durations is None or distances is None:
        raise MatrixError("OSRM answer lacks durations or distances (annotations=duration,distance)")

    def grid(rows: Sequence[Sequence[float | None]], missing: float) -> npt.NDArray[np.float64]:
        out = np.array([[missing if x is None else float(x) for x in row] for row in rows], dtype=np.float64)
        if out.shape != (n, n):
            raise MatrixError(f"OSRM answer is {out.shape}, expected {n}x{n}")
        return out

    return TravelMatrices(grid(distances, UNREACHABLE_S * 30.0), grid(durations, float(UNREACHABLE_S)))


def _http_get_json(url: str, timeout_s: float) -> Mapping[str, Any]:
    from urllib.request import urlopen

    with urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - the URL is built from our own config
        return json.loads(resp.read().decode("utf-8"))  # type: ignore[no-any-return]
