"""Keys the text rule makes equal are refused, not merged: a lock on "T01" and one on full-width
"Ｔ０１" (or "T01 ") are the same stop once normalised, so a solve or re-plan that sends both is a 422
naming the later key, never a plan where the last one silently won."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.text import TextKeyDict
from tests.e2e.dispatch_support import DISPATCHER, client, ctx, small_problem

__all__ = ["client", "ctx"]  # fixtures


def _twins(key: str) -> st.SearchStrategy[str]:
    """Spellings of ``key`` that normalise to it: full-width letters and digits, outer spaces."""
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in key)
    return st.sampled_from([wide, f" {key}", f"{key} ", f"{key}\u3000"])


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stop=st.sampled_from(["T01", "T02", "T03"]), data=st.data())
def test_a_lock_spelt_twice_is_a_422_naming_the_later_spelling(client: FlaskClient, stop: str, data: st.DataObject) -> None:
    twin = data.draw(_twins(stop))
    assert unicodedata.normalize("NFKC", twin).strip() == stop
    body: dict[str, Any] = small_problem(time_limit_s=0.2)
    body["locks"] = {stop: "V1", twin: "V2"}
    response = client.post("/api/v1/solve", json=body, headers=DISPATCHER)
    assert response.status_code == 422, response.get_json()
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert len(fields) == 1 and fields[0].startswith("locks.")
    assert fields[0].removeprefix("locks.").strip() == twin.strip()  # the later spelling, as sent (trimmed)


def test_initial_routes_spelt_twice_are_refused(client: FlaskClient) -> None:
    body: dict[str, Any] = small_problem(time_limit_s=0.2)
    body["initial_routes"] = {"V1": ["T01"], "Ｖ1": ["T02"]}
    response = client.post("/api/v1/solve", json=body, headers=DISPATCHER)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["initial_routes.Ｖ1"]


def test_distinct_keys_still_pass_through_the_dict() -> None:
    from shared.text import Text
    field = TextKeyDict(keys=Text(), values=Text())
    assert field.deserialize({"A": "x", " B ": "y"}) == {"A": "x", "B": "y"}
