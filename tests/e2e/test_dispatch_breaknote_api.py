"""Break notes through the API: codes on every route, the manifest in one language per request.

Before: the manifest's ``break_note`` mixed Chinese and English whatever the reader's language
("午休与装货在物流中心 12:45–13:30 (break and reload at the hub)"), and routes named their break rule
by an English sentence only. Now routes carry ``break_code``; the manifest's labels follow ``?lang=``
(zh by default, en), and a language it does not speak is a 422 naming ``lang``.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from services.dispatch.presentation import BREAK_NOTE_CODES, TERMS
from services.dispatch.routing.solver import BREAK_CODES, BREAK_NOTES
from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, client, ctx, run_queued, small_problem

__all__ = ["client", "ctx"]  # fixtures

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def test_a_solve_names_each_routes_break_rule_by_code_and_in_english(client: FlaskClient) -> None:
    plan = client.post("/api/v1/solve", json=small_problem(), headers=DISPATCHER).get_json()
    v1 = next(r for r in plan["routes"] if r["vehicle"] == "V1")  # V1 has a break, V2 none
    assert v1["break_code"] in BREAK_CODES and v1["break_note"] == BREAK_NOTES[v1["break_code"]]
    assert all(r["break_code"] == "" == r["break_note"] for r in plan["routes"] if r["vehicle"] != "V1")


def test_the_manifest_speaks_one_language_per_request(client: FlaskClient, ctx: ServiceContext) -> None:
    queued = client.post(
        "/api/v1/plans",
        json={"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1},
        headers=DISPATCHER,
    )
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{queued.get_json()['id']}", headers=DISPATCHER).get_json()
    assert plan["status"] == "solved", plan["error"]
    assert all(r["break_code"] in ("", *BREAK_CODES) for r in plan["result"]["routes"])
    listed = client.get(f"/api/v1/plans?date={MONDAY.isoformat()}", headers=DISPATCHER).get_json()
    assert all("break_code" in r for p in listed for r in (p["result"] or {}).get("routes", []))
    seen: set[str] = set()
    for van in sorted({r.get("vehicle_id", r["vehicle"]) for r in plan["result"]["routes"]}):
        base = f"/api/v1/plans/{plan['id']}/manifests/{van}"
        zh, zh_default = (client.get(base + q, headers=DISPATCHER).get_json() for q in ("?lang=zh", ""))
        en = client.get(base + "?lang=en", headers=DISPATCHER).get_json()
        assert zh == zh_default  # Chinese unless English is asked for
        assert [n["code"] for n in en["break_notes"]] == [n["code"] for n in zh["break_notes"]]
        assert not CJK.search(en["break_note"]), en["break_note"]
        assert not any(CJK.search(n["label"]) for n in en["break_notes"])
        assert not any(CJK.search(s["priority_label"]) for s in en["stops"])
        for note in zh["break_notes"]:
            assert note["code"] in BREAK_NOTE_CODES
            chinese = TERMS["break_note"][note["code"]][0].format(
                start=note["start"] or "", end=note["end"] or ""
            )
            assert note["label"] == chinese and chinese in zh["break_note"]
            seen.add(note["code"])
        assert "(break and reload at the hub)" not in zh["break_note"]
    assert seen, "no van of the default fleet had a break rule to show"
    wrong = client.get(f"/api/v1/plans/{plan['id']}/manifests/{van}?lang=fr", headers=DISPATCHER)
    assert wrong.status_code == 422 and wrong.mimetype == "application/problem+json"
    assert [e["field"] for e in wrong.get_json()["errors"]] == ["lang"]
