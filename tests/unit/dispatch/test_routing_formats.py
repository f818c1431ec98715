"""Benchmark readers: Solomon text (CRLF) and CVRPLIB .vrp into the same Problem model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from services.dispatch.routing.checker import check
from services.dispatch.routing.formats import read_instance, read_solomon, read_vrplib
from services.dispatch.routing.problem import LOAD


def test_solomon_exact_convention(vrp_data: Path) -> None:
    p = read_solomon(vrp_data / "C101.txt")
    assert p.name == "C101" and len(p.stops) == 100 and len(p.vehicles) == 25
    assert p.distance_scale == 1000
    v = p.vehicles[0]
    assert v.capacity == {LOAD: 200} and (v.shift_start, v.shift_end) == (0, 1236 * 1000)
    first = p.stops[0]
    assert first.id == "1" and first.deliver == {LOAD: 10} and first.service == 90 * 1000
    assert first.window is not None and (first.window.start, first.window.end) == (912_000, 967_000)
    d = math.dist((40, 50), (45, 68))
    assert p.distance[0, 1] == round(d * 1000)
    assert p.duration[0, 1] == math.ceil(d * 1000)  # rounded up: never optimistic about time
    assert p.real_distance(0, 1) == pytest.approx(d)
    assert not p.options.minimize_vehicles


def test_solomon_dimacs_and_hierarchical(vrp_data: Path) -> None:
    p = read_solomon(vrp_data / "C101.txt", convention="dimacs", objective="hierarchical")
    d = math.dist((40, 50), (45, 68))
    assert p.distance_scale == 10 and p.distance[0, 1] == math.floor(d * 10) == p.duration[0, 1]
    assert p.options.minimize_vehicles
    assert p.vehicles[0].fixed_cost > int(p.distance[0, 1:].sum())


def test_vrplib_reader(vrp_data: Path) -> None:
    p = read_vrplib(vrp_data / "X-n101-k25.vrp")
    assert len(p.stops) == 100 and p.vehicles[0].capacity == {"load": 206}
    assert len(p.vehicles) >= 25
    d = math.dist((365, 689), (146, 180))
    assert p.distance[0, 1] == math.floor(d + 0.5)
    assert sum(s.deliver[LOAD] for s in p.stops) > 0
    assert p.stops[0].window is None


def test_bks_route_of_vrplib_instance_checks_out(vrp_data: Path) -> None:
    """The published optimal routes (customers numbered from 1) are feasible and cost the BKS."""
    p = read_vrplib(vrp_data / "X-n101-k25.vrp")
    sol_file = vrp_data / "X-n101-k25.sol"
    routes = [ln.split(":")[1].split() for ln in sol_file.read_text().splitlines() if ln.startswith("Route")]
    # customer k of the .sol file is node k+1 of the .vrp (node 1 is the depot) = our stop id str(k + 1)
    plan = {p.vehicles[i].id: [str(int(c) + 1) for c in r] for i, r in enumerate(routes)}
    report = check(p, plan)
    assert report.ok, report.messages()
    assert report.distance == 27591


def test_read_instance_dispatches_on_suffix(vrp_data: Path) -> None:
    assert read_instance(vrp_data / "X-n101-k25.vrp").distance_scale == 1
    assert read_instance(vrp_data / "C101.txt", convention="dimacs").distance_scale == 10


def test_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("nothing here\r\n")
    with pytest.raises((ValueError, StopIteration)):
        read_solomon(bad)
