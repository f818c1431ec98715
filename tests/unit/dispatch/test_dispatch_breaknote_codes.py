"""Break notes carry a stable code, labelled in Chinese and English by the terms table.

Before: ``Route.break_note`` was the solver's English sentence, the pages and the terms table looked
notes up by that sentence (the rule "break before departure" had no label at all, so the Chinese
board showed English), and the manifest joined the notes with a Chinese/English sentence of its own
("午休与装货在物流中心 … (break and reload at the hub)") whatever the language. Now every outcome of
the break rule (routing/README.md "Working time and breaks") has a code (solver.BREAK_CODES, plus
presentation.BETWEEN_TRIPS for a van's break between its trips), the plan and the manifest carry it,
and the manifest speaks one language per request.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch import dayplan, presentation
from services.dispatch.presentation import BETWEEN_TRIPS, BREAK_NOTE_CODES, TERMS
from services.dispatch.routing import Break, Problem, Stop, TimeWindow, Vehicle, solve, timing
from services.dispatch.routing.solution import Route
from services.dispatch.routing.solver import BREAK_CODES, BREAK_NOTES, break_code
from tests.unit.dispatch.conftest import _plane_problem

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
H, M = 3600, 60
HHMM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


def test_every_break_code_has_a_chinese_and_an_english_label_and_nothing_else_is_labelled() -> None:
    assert set(BREAK_CODES) == set(BREAK_NOTES) and BETWEEN_TRIPS not in BREAK_CODES
    assert set(TERMS["break_note"]) == set(BREAK_NOTE_CODES)
    for code in BREAK_NOTE_CODES:
        zh, en = TERMS["break_note"][code]
        assert CJK.search(zh) and en and not CJK.search(en), code
    assert len({zh for zh, _ in TERMS["break_note"].values()}) == len(
        BREAK_NOTE_CODES
    )  # told apart in either language
    assert len({en for _, en in TERMS["break_note"].values()}) == len(BREAK_NOTE_CODES)
    for code in BREAK_CODES:  # the English label is the solver's sentence the /solve answer carries
        assert TERMS["break_note"][code][1].lower() == BREAK_NOTES[code].lower()


@given(code=st.sampled_from(BREAK_NOTE_CODES), start=HHMM, end=HHMM)
def test_a_label_is_in_one_language_with_the_hub_times_filled_in(code: str, start: str, end: str) -> None:
    zh = presentation.label("break_note", code, "zh", start=start, end=end)
    en = presentation.label("break_note", code, "en", start=start, end=end)
    assert CJK.search(zh) and not CJK.search(en)
    assert "{" not in zh + en
    if code == BETWEEN_TRIPS:
        assert f"{start}–{end}" in zh and f"{start}–{end}" in en


def _rule(
    shift: tuple[int, int],
    window: tuple[int, int],
    minutes: int,
    depot: tuple[int, int],
    route: tuple[int, int | None],
) -> str:
    """The README's rule, derived here on its own: which code a route of this vehicle should carry."""
    lo, hi = max(shift[0], depot[0]), min(shift[1], depot[1])
    overlap = min(window[1], hi) - max(window[0], lo)
    if overlap <= 0:
        return "break_not_owed_outside_working_time"
    if overlap < minutes:
        return "break_not_owed_short_window"
    start, break_start = route
    if break_start is None:
        return "break_after_return"
    return "break_before_departure" if break_start < start else "break_on_route"


@settings(max_examples=300, deadline=None)
@given(
    shift=st.tuples(st.integers(0, 23 * 60), st.integers(1, 6 * 60)).map(lambda t: (t[0], t[0] + t[1])),
    window=st.tuples(st.integers(0, 23 * 60), st.integers(1, 4 * 60)).map(lambda t: (t[0], t[0] + t[1])),
    minutes=st.integers(1, 120),
    depot=st.tuples(st.integers(0, 12 * 60), st.integers(12 * 60 + 1, 24 * 60)),
    start=st.integers(0, 24 * 60),
    break_at=st.one_of(st.none(), st.integers(0, 24 * 60)),
)
def test_the_solver_names_every_outcome_of_the_break_rule_by_its_code(
    shift: tuple[int, int],
    window: tuple[int, int],
    minutes: int,
    depot: tuple[int, int],
    start: int,
    break_at: int | None,
) -> None:
    if min(shift[1], depot[1]) <= max(shift[0], depot[0]):
        return  # no working time: the vehicle is left out of the day, it has no route
    minutes = min(minutes, window[1] - window[0])
    vehicle = Vehicle("v", {"ambient": 10}, shift_start=shift[0] * M, shift_end=shift[1] * M,
                      rest_break=Break(window[0] * M, window[1] * M, minutes * M))  # fmt: skip
    problem = _plane_problem((0.0, 0.0), [(Stop("a", deliver={"ambient": 1}), (10.0, 0.0))], [vehicle],
                             depot_hours=TimeWindow(depot[0] * M, depot[1] * M))  # fmt: skip
    route = Route(
        "v", (), start * M, start * M + 60, {}, 0, 0.0, 0, None if break_at is None else break_at * M
    )
    code = break_code(problem, route)
    assert code == _rule(shift, window, minutes, depot, (start, break_at))
    assert code in BREAK_CODES
    no_break = Vehicle("w", {"ambient": 10}, shift_start=shift[0] * M, shift_end=shift[1] * M)
    assert (
        break_code(
            Problem(**{**problem.__dict__, "vehicles": (no_break,)}), Route("w", (), 0, 1, {}, 0, 0.0, 0)
        )
        == ""
    )


def test_a_solved_route_carries_the_code_and_its_english_sentence() -> None:
    stop = Stop("a", deliver={"ambient": 1}, service=10 * M, windows=(TimeWindow(8 * H, 11 * H),))
    outside = Vehicle(
        "v", {"ambient": 10}, shift_start=7 * H, shift_end=11 * H, rest_break=Break(12 * H, 13 * H, 45 * M)
    )
    short = Vehicle(
        "v",
        {"ambient": 10},
        shift_start=7 * H,
        shift_end=11 * H,
        rest_break=Break(10 * H + 30 * M, 13 * H, 45 * M),
    )
    for vehicle, code in (
        (outside, "break_not_owed_outside_working_time"),
        (short, "break_not_owed_short_window"),
    ):
        [route] = solve(_plane_problem((0.0, 0.0), [(stop, (3000.0, 0.0))], [vehicle])).routes
        assert (route.break_code, route.break_note) == (code, BREAK_NOTES[code])


def _plan(legs: list[dict[str, Any]]) -> dict[str, Any]:
    stops = {f"S{k}": {"site": f"S{k}", "name": f"站{k}", "priority": 1} for k in range(len(legs))}
    return {
        "id": "p1",
        "date": "2026-12-07",
        "status": "solved",
        "stop_refs": stops,
        "result": {"routes": legs},
    }


def _leg(k: int, trip: int, start: str, end: str, **note: str) -> dict[str, Any]:
    return {"vehicle": f"V~{trip}", "vehicle_id": "V", "trip": trip, "start": start, "end": end, "distance_km": 9.0,
            "stops": [{"id": f"S{k}", "arrival": start, "start": start, "departure": start, "trip": trip}], **note}  # fmt: skip


@given(codes=st.lists(st.sampled_from(("", *BREAK_CODES)), min_size=1, max_size=3), old=st.booleans())
def test_the_manifest_break_note_speaks_the_requested_language_only(codes: list[str], old: bool) -> None:
    times = [("07:30", "11:45"), ("13:30", "15:00"), ("15:30", "17:30")]
    # a plan stored before codes has only the solver's sentence: the manifest still knows the code
    legs = [_leg(k, k + 1, *times[k], **({"break_note": BREAK_NOTES.get(c, "")} if old else {"break_code": c}))
            for k, c in enumerate(codes)]  # fmt: skip
    en = presentation.manifest(_plan(legs), "V", None, {}, {}, {}, "en")
    zh = presentation.manifest(_plan(legs), "V", None, {}, {}, {})
    assert en is not None and zh is not None
    expected = [
        c
        for k, c in enumerate(codes)
        for c in ([c] if c else []) + ([BETWEEN_TRIPS] if k + 1 < len(codes) else [])
    ]
    assert [n["code"] for n in en["break_notes"]] == [n["code"] for n in zh["break_notes"]] == expected
    assert not CJK.search(en["break_note"]) and not any(CJK.search(n["label"]) for n in en["break_notes"])
    assert not CJK.search(" ".join(s["priority_label"] for s in en["stops"]))
    for note in zh["break_notes"]:
        label = TERMS["break_note"][note["code"]][0].format(start=note["start"] or "", end=note["end"] or "")
        assert note["label"] == label and label in zh["break_note"]
    for a, b in zip(
        times, times[1 : len(codes)], strict=False
    ):  # the hub time between two trips, both languages
        assert f"{a[1]}–{b[0]}" in en["break_note"] and f"{a[1]}–{b[0]}" in zh["break_note"]
    assert "break and reload" not in zh["break_note"] and "物流中心" not in en["break_note"]


def test_a_plan_gets_its_routes_break_codes_also_when_stored_before_codes() -> None:
    sentence = BREAK_NOTES["break_before_departure"]
    plan = presentation.with_break_codes(
        {"result": {"routes": [{"break_note": sentence}, {"break_note": ""}]}}
    )
    assert [r["break_code"] for r in plan["result"]["routes"]] == ["break_before_departure", ""]
    answer = presentation.with_break_codes(
        {"routes": [{"break_note": sentence, "break_code": "break_on_route"}]}
    )
    assert answer["routes"][0]["break_code"] == "break_on_route"  # the solver's code wins
    assert presentation.with_break_codes({"result": None}) == {"result": None}


def test_every_rule_code_a_plan_may_carry_has_both_labels_too() -> None:
    """The same kind of code: why a stop or a shipment is left out (the board's list of stops left out).
    The shipments no stop carries (dayplan.unplanned_shipments) came with a zh + en sentence only."""
    rules = {v for k, v in vars(timing).items() if k.startswith("RULE_") and isinstance(v, str)}
    rules |= {dayplan.SITE_UNKNOWN, dayplan.SITE_INACTIVE, dayplan.SITE_IS_HUB, dayplan.NOTHING_TO_MOVE}
    assert rules <= set(TERMS["rule"]), rules - set(TERMS["rule"])
    for zh, en in TERMS["rule"].values():
        assert CJK.search(zh) and en and not CJK.search(en)
