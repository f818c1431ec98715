"""Every volume field of the dispatch API refuses a value finer than 1 mL and keeps a whole-mL value exactly.

Before: volumes are whole millilitres inside (model.VOLUME_SCALE) and litres at the edge, and a value
such as 12.3456 L was accepted and silently rounded up to 12.346 L by planning.millilitres. Now the
schemas refuse it, naming the field (``stops[3].deliver.cold``) with "finer than 1 mL"; a value
given to the millilitre loads unchanged and becomes exactly its millilitres.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from services.dispatch.model import COMPARTMENTS, DELIVERY_COMPARTMENTS, PICKUP_COMPARTMENTS, VOLUME_SCALE
from services.dispatch.planning import millilitres
from services.dispatch.schemas import ShipmentIn, SolveIn, VehicleRowIn
from services.dispatch.schemas_volumes import FINER_THAN_ML, VOLUME_MAX
from shared.web.problems import flatten_messages

TOP_ML = int(VOLUME_MAX * VOLUME_SCALE)


def _van(i: int, compartments: dict[str, float]) -> dict[str, Any]:
    return {"id": f"V{i}", "compartments": compartments, "shift": ["07:30", "17:30"]}


def _stop(i: int, **volumes: dict[str, float]) -> dict[str, Any]:
    return {"id": f"S{i}", "lat": 34.95 + i / 100, "lon": 115.9, **volumes}


def _solve(where: str) -> Callable[[str, float], tuple[dict[str, Any], str]]:
    """A /solve problem with the volume at ``where`` (the fourth stop's or the second vehicle's)."""

    def build(compartment: str, litres: float) -> tuple[dict[str, Any], str]:
        vans = [_van(i, {c: VOLUME_MAX for c in COMPARTMENTS}) for i in range(2)]
        stops = [_stop(i) for i in range(4)]
        if where == "compartments":
            vans[1]["compartments"] = {compartment: litres}
            path = f"vehicles[1].compartments.{compartment}"
        else:
            stops[3][where] = {compartment: litres}
            path = f"stops[3].{where}.{compartment}"
        return {"depot": {"id": "HUB", "lat": 34.95, "lon": 115.89}, "vehicles": vans, "stops": stops}, path

    return build


def _shipment(side: str) -> Callable[[str, float], tuple[dict[str, Any], str]]:
    """A hand-made shipment moving something else too (so a 0 L value is still a shipment)."""
    other = {"pickup": {"soiled": 1}} if side == "deliver" else {"deliver": {"ambient": 1}}
    return lambda c, v: ({"site_code": "CW-T01", side: {c: v}, **other}, f"{side}.{c}")


def _vehicle_row(c: str, v: float) -> tuple[dict[str, Any], str]:
    return {"id": "LC-9", "name": "测试车", "compartments_l": {c: v}}, f"compartments_l.{c}"


# Every volume field of the input schemas: (schema, body with the value at the field and the field's
# name, the compartments the field takes: a hand-made shipment delivers drugs and linen, collects the rest).
Build = Callable[[str, float], tuple[dict[str, Any], str]]
FIELDS: dict[str, tuple[type[Schema], Build, tuple[str, ...]]] = {
    "solve stop deliver": (SolveIn, _solve("deliver"), COMPARTMENTS),
    "solve stop pickup": (SolveIn, _solve("pickup"), COMPARTMENTS),
    "solve vehicle compartments": (SolveIn, _solve("compartments"), COMPARTMENTS),
    "shipment deliver": (ShipmentIn, _shipment("deliver"), DELIVERY_COMPARTMENTS),
    "shipment pickup": (ShipmentIn, _shipment("pickup"), PICKUP_COMPARTMENTS),
    "fleet vehicle compartments_l": (VehicleRowIn, _vehicle_row, COMPARTMENTS),
}
FIELD = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda w: st.tuples(st.just(w), st.sampled_from(FIELDS[w][2]))
)


def _loaded(schema: type[Schema], body: dict[str, Any]) -> Any:
    return schema().load(body)


def _volume_at(loaded: Any, path: str) -> float:
    """The loaded value of the field the body set (SolveIn: a dict; the others: their command)."""
    if path.startswith("stops["):
        _, side, c = path.split(".")
        return float(loaded["stops"][3][side][c])
    if path.startswith("vehicles["):
        return float(loaded["vehicles"][1]["compartments"][path.rsplit(".", 1)[1]])
    side, c = path.split(".")
    return float(getattr(loaded, side)[c])


@settings(max_examples=200, deadline=None)
@given(field=FIELD, ml=st.integers(0, TOP_ML - 1), finer=st.integers(1, 9999))
def test_a_volume_finer_than_a_millilitre_is_refused_naming_its_field(
    field: tuple[str, str], ml: int, finer: int
) -> None:
    (_, compartment), (schema, build, _) = field, FIELDS[field[0]]
    litres = float(Decimal(ml) / VOLUME_SCALE + Decimal(finer) / 10**7)  # 0.1 µL to 0.9999 mL past a whole mL
    body, path = build(compartment, litres)
    with pytest.raises(ValidationError) as refused:
        _loaded(schema, body)
    errors = flatten_messages(refused.value.messages)
    assert {"field": path, "message": FINER_THAN_ML} in errors, errors
    assert "finer than 1 mL" in FINER_THAN_ML


@settings(max_examples=200, deadline=None)
@given(field=FIELD, ml=st.integers(0, TOP_ML))
def test_a_volume_in_whole_millilitres_is_accepted_and_keeps_its_exact_value(
    field: tuple[str, str], ml: int
) -> None:
    (_, compartment), (schema, build, _) = field, FIELDS[field[0]]
    litres = ml / VOLUME_SCALE
    body, path = build(compartment, litres)
    value = _volume_at(_loaded(schema, body), path)
    assert value == litres
    assert millilitres({compartment: value}) == ({compartment: ml} if ml else {})


@pytest.mark.parametrize("text", ["12.345", "0.001", "100000", "33.33", "1e-3", "2.5E2"])
def test_decimals_written_to_the_millilitre_pass_whatever_their_notation(text: str) -> None:
    loaded = ShipmentIn().load({"site_code": "CW-T01", "deliver": {"cold": float(text)}})
    assert millilitres(loaded.deliver) == {"cold": int(Decimal(text) * VOLUME_SCALE)}


@pytest.mark.parametrize("litres", [12.3456, 0.0005, 0.30000000000000004, 99999.9999])
def test_the_examples_that_used_to_be_rounded_up_are_refused(litres: float) -> None:
    with pytest.raises(ValidationError) as refused:
        ShipmentIn().load({"site_code": "CW-T01", "deliver": {"cold": litres}})
    assert flatten_messages(refused.value.messages) == [{"field": "deliver.cold", "message": FINER_THAN_ML}]
