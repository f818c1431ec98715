"""Travel matrix providers; OSRM is exercised with a recorded answer, never the network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.dispatch.routing.matrix import (
    UNREACHABLE_S,
    GreatCircleMatrix,
    MatrixError,
    MatrixFile,
    OsrmTable,
    Point,
    haversine_m,
)

COUNTY = [Point(36.65, 117.00), Point(36.70, 117.00, "village"), Point(36.65, 117.10, "county")]

# a real /table answer shape for three points (values made up, structure as OSRM returns it)
RECORDED = {
    "code": "Ok",
    "durations": [[0, 420.5, 610.0], [415.2, 0, None], [600.0, 980.1, 0]],
    "distances": [[0, 5600.1, 9100.0], [5590.0, 0, None], [9050.0, 14200.4, 0]],
    "sources": [{"location": [117.0, 36.65]}] * 3,
    "destinations": [{"location": [117.0, 36.65]}] * 3,
}


def test_haversine_one_degree_of_latitude() -> None:
    assert haversine_m(Point(36.0, 117.0), Point(37.0, 117.0)) == pytest.approx(111_195, rel=1e-3)


def test_great_circle_applies_circuity_and_road_speeds() -> None:
    gc = GreatCircleMatrix(circuity=1.3, speed_kmh=40, road_speeds_kmh={"village": 20, "county": 60})
    m = gc.matrices(COUNTY)
    straight = haversine_m(COUNTY[0], COUNTY[1])
    assert m.distance_m[0, 1] == pytest.approx(1.3 * straight, rel=1e-6)
    # the leg to the village clinic runs at the slower village speed
    assert m.duration_s[0, 1] == pytest.approx(m.distance_m[0, 1] / (20 / 3.6), rel=1e-6)
    # depot (default 40 km/h) to a county-road site: the slower end is the depot's 40 km/h
    assert m.duration_s[0, 2] == pytest.approx(m.distance_m[0, 2] / (40 / 3.6), rel=1e-6)
    dist, dur = m.to_int()
    assert dist.dtype.kind == "i" and dur[0, 1] >= m.duration_s[0, 1]
    assert (dist.diagonal() == 0).all()


def test_matrix_file_json_and_csv(tmp_path: Path) -> None:
    js = tmp_path / "m.json"
    js.write_text(json.dumps({"distances": [[0, 10], [12, 0]], "durations": [[0, 5], [6, 0]]}))
    m = MatrixFile(js).matrices(COUNTY[:2])
    assert m.distance_m[1, 0] == 12 and m.duration_s[0, 1] == 5
    cs = tmp_path / "m.csv"
    cs.write_text("from,to,distance_m,duration_s\n0,1,10,5\n1,0,12,6\n")
    assert MatrixFile(cs).matrices(COUNTY[:2]).distance_m.tolist() == [[0, 10], [12, 0]]
    with pytest.raises(MatrixError):
        MatrixFile(cs).matrices(COUNTY)  # three points, file covers two


def test_osrm_url_and_recorded_answer() -> None:
    urls: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        urls.append(url)
        return RECORDED

    osrm = OsrmTable("http://osrm.local:5000/", fetch=fetch)
    m = osrm.matrices(COUNTY)
    assert urls == [
        "http://osrm.local:5000/table/v1/driving/117.000000,36.650000;117.000000,36.700000;117.100000,36.650000"
        "?annotations=duration,distance"
    ]
    assert m.duration_s[0, 1] == 420.5 and m.distance_m[2, 1] == 14200.4
    assert m.duration_s[1, 2] == UNREACHABLE_S  # null = no route


def test_osrm_error_is_reported() -> None:
    osrm = OsrmTable(fetch=lambda url: {"code": "InvalidQuery", "message": "bad coordinates"})
    with pytest.raises(MatrixError, match="InvalidQuery"):
        osrm.matrices(COUNTY)
