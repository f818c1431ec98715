"""Fresh eyes (session 16): knowledge tables given as JSON rows take the text rule
in a text cell and in a list cell (422, nothing stored)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_text_fields_api import HEADERS, app_of
from tests.support.web import table_dump

ROW = {"drug": "华法林", "message": "致胚胎病", "source": "说明书"}


def post(version: str, rows: list[dict[str, Any]]) -> Any:
    _, app = app_of("prescription_review")
    return app.test_client().post(
        "/api/v1/knowledge",
        json={"version": version, "tables": {"pregnancy": rows}},
        headers=HEADERS["pharmacy_manager"],
    )


@pytest.mark.parametrize(
    ("name", "row"),
    [
        pytest.param("plain", {**ROW, "message": "x\u202ey"}, id="plain-cell"),
        pytest.param("listed", {**ROW, "drug": ["华法林\u200b"]}, id="list-cell"),
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
