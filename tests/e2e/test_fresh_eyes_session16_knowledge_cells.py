"""Fresh eyes (session 16), faults now fixed: knowledge tables given as JSON rows take the text rule in every cell,
whatever JSON shape the cell has; a cell that is not text (an object, a list inside a list) is refused,
never stored as its Python spelling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.test_fresh_eyes_session16_knowledge import ROW, post
from tests.e2e.test_text_fields_api import app_of
from tests.support.web import table_dump


@pytest.mark.parametrize(
    ("name", "row"),
    [
        pytest.param("nested", {**ROW, "drug": [["华法林\u202e"]]}, id="list-in-a-list"),
        pytest.param("object", {**ROW, "message": {"k": "x\u202ey"}}, id="object-cell"),
    ],
)
def test_a_control_character_in_any_json_cell_is_a_422_and_nothing_is_stored(
    name: str, row: dict[str, Any]
) -> None:
    ctx, _ = app_of("prescription_review")
    before = table_dump(ctx)
    response = post(f"fe16-{name}", [row])
    assert response.status_code == 422 and response.mimetype == "application/problem+json", (
        response.get_json()
    )
    assert table_dump(ctx) == before


@pytest.mark.parametrize(
    ("version", "cell"),
    [("fe16-obj", {"k": "v"}), ("fe16-lil", [["华法林"]])],
    ids=["object", "list-in-a-list"],
)
def test_a_cell_that_is_not_text_is_refused_not_stored_as_its_python_spelling(
    version: str, cell: Any
) -> None:
    ctx, _ = app_of("prescription_review")
    response = post(version, [{**ROW, "drug": cell}])
    assert response.status_code == 422, response.get_json()
    stored = json.dumps(table_dump(ctx).get("knowledge_versions", []), default=str, ensure_ascii=False)
    assert "{'k'" not in stored and "[['" not in stored
