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
