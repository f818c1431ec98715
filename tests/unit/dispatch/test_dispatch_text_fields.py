"""Text dispatch stores is refused when it carries control or invisible characters (shared/text.py rule).

Found trying the API as a dispatcher: a shipment note with a NUL was accepted (201); PostgreSQL
cannot store NUL in text, so the same request is a 500 there. Every stored text field follows the
shared rule: NFKC/NFC, trimmed, control and format characters refused naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from services.dispatch.schemas import CompleteIn, ReplanIn, ShipmentIn, VehicleRowIn

SHIPMENT = {"site_code": "CW-T01", "deliver": {"ambient": 1}, "note": "到后入库",
            "items": [{"name": "胰岛素注射液", "quantity": 4, "unit": "支", "item_code": "YP01"}]}  # fmt: skip
VEHICLE = {"id": "LC-9", "name": "冷藏车9号", "compartments_l": {"cold": 100}, "driver": "王师傅"}
CASES: list[tuple[type[Schema], dict[str, Any], tuple[Any, ...]]] = [
    (ShipmentIn, SHIPMENT, ("site_code",)),
    (ShipmentIn, SHIPMENT, ("note",)),
    (ShipmentIn, SHIPMENT, ("items", 0, "name")),
    (ShipmentIn, SHIPMENT, ("items", 0, "unit")),
    (ShipmentIn, SHIPMENT, ("items", 0, "item_code")),
    (VehicleRowIn, VEHICLE, ("id",)),
    (VehicleRowIn, VEHICLE, ("name",)),
    (VehicleRowIn, VEHICLE, ("driver",)),
    (CompleteIn, {"received_by": "李药师", "exceptions": ["少一箱"]}, ("received_by",)),
    (CompleteIn, {"received_by": "李药师", "exceptions": ["少一箱"]}, ("exceptions", 0)),
    (ReplanIn, {"locked_routes": ["LC-1"], "vehicles_out": ["LC-2"]}, ("locked_routes", 0)),
    (ReplanIn, {"locked_routes": ["LC-1"], "vehicles_out": ["LC-2"]}, ("vehicles_out", 0)),
]


def _with(body: Any, path: tuple[Any, ...], bad: str) -> Any:
    if not path:
        return bad
    if isinstance(body, list):
        return [(_with(v, path[1:], bad) if i == path[0] else v) for i, v in enumerate(body)]
    return {**body, path[0]: _with(body[path[0]], path[1:], bad)}


def _at(messages: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        messages = messages[key]
    return messages


@pytest.mark.parametrize("bad_char", ["\x00", "\u200b", "\x07"])
@pytest.mark.parametrize(("schema", "body", "path"), CASES)
def test_a_control_or_invisible_character_is_refused_naming_the_field(
    schema: type[Schema], body: dict[str, Any], path: tuple[Any, ...], bad_char: str
) -> None:
    schema().load(body)  # the clean body loads
    value = _at(body, path)
    with pytest.raises(ValidationError) as refused:
        schema().load(_with(body, path, value[:1] + bad_char + value[1:]))
    assert _at(refused.value.messages, path)


def test_a_lock_key_with_a_nul_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        ReplanIn().load({"locks": {"CW-T01\x00": "LC-1"}})
    assert "locks" in refused.value.messages


def test_full_width_text_is_normalised_and_trimmed() -> None:
    cmd = ShipmentIn().load({**SHIPMENT, "site_code": " ＣＷ-Ｔ01 ", "note": "  到后入库，谢谢  "})
    assert cmd.site_code == "CW-T01" and cmd.note == "到后入库，谢谢"
