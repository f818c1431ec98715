"""An Idempotency-Key is the caller's own: another user (or the same person signed in for another
site) reusing it never receives the first caller's stored answer, and a different query string is
a different request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from shared.auth import Principal, issue_token
from shared.web.idempotency import _caller
from tests.e2e.test_access_signin import SECRET, formulary_app
from tests.support.formulary import sample_item


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app, ctx = formulary_app(tmp_path)
    yield app
    ctx.engine.dispose()


def bearer(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, 'formulary_admin', subject=subject)}"}


def test_another_user_s_key_is_not_a_replay_of_their_answer(app: Flask) -> None:
    client = app.test_client()
    first = client.post("/api/v1/items", json=sample_item("YPIDEM001"), headers={**bearer("zhang"), "Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/items", json=sample_item("YPIDEM001"), headers={**bearer("zhang"), "Idempotency-Key": "k-1"})
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()
    other = client.post("/api/v1/items", json=sample_item("YPIDEM001"), headers={**bearer("li"), "Idempotency-Key": "k-1"})
    assert other.headers.get("Idempotent-Replayed") is None
    assert other.get_json().get("id") != first.get_json()["id"]


def test_a_different_query_string_is_a_different_request(app: Flask) -> None:
    client = app.test_client()
    headers = {**bearer("zhang"), "Idempotency-Key": "k-2"}
    assert client.post("/api/v1/items", json=sample_item("YPIDEM002"), headers=headers).status_code == 201
    r = client.post("/api/v1/items?site=CW-T02", json=sample_item("YPIDEM002"), headers=headers)
    assert r.status_code == 422 and r.headers.get("Idempotent-Replayed") is None


def test_keys_are_held_per_site_for_a_confined_token_and_fit_the_column() -> None:
    own = Principal(subject="wang", roles=("storekeeper", "pharmacist"), site="CW-T01")
    moved = Principal(subject="wang", roles=("storekeeper",), site="CW-T02")
    county = Principal(subject="wang", roles=("pharmacist",))
    assert len({_caller(own), _caller(moved), _caller(county)}) == 3
    assert len(_caller(Principal(subject="x" * 500, roles=("storekeeper",), site="CW-T01"))) <= 120
