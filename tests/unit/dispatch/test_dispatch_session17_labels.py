"""The board and the driver manifest speak one language at a time, with the same words for the same terms.

Fresh eyes (session 17): the English manifest still showed priorities as 例行/优先/紧急 and joined
lists with "、", and the board called priority 1 普通 where the manifest said 例行. Now one table of
terms (presentation.TERMS, [Chinese, English] per term) feeds the manifest API's labels and both
pages (their dispatch model); these tests render the pages in-process (Flask test client) and walk
every label of their markup, and read the pages' scripts for words or joiners of their own. The
labels the scripts build are walked in a browser (tests/browser/test_dispatch_session17_labels.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.dispatch import presentation
from services.dispatch.app import SPEC
from services.dispatch.model import DELIVERY_COMPARTMENTS, PICKUP_COMPARTMENTS
from services.dispatch.presentation import PRIORITY_LABELS, TERMS
from shared.migrate import upgrade
from shared.runtime import build_context
from tests.support.web import make_settings

STATIC = Path(presentation.__file__).parent / "ui" / "static"
# Han ideographs, CJK punctuation (、。「」（）) and full-width forms (，；：): none belongs in English.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
TRANSLATED_ATTRS = ("title", "placeholder", "aria-label", "label")
RUNTIME_LABELLED = {"hub-signin-open"}  # the shell's sign-in button: hub-session.js gives it both languages


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """The real dispatch app (its pages are shells: no plan is needed to render them)."""
    folder = tmp_path_factory.mktemp("dispatch-labels")
    ctx = build_context(SPEC, make_settings("dispatch", f"sqlite:///{folder}/dispatch.sqlite3"))
    upgrade(SPEC.migrations, ctx.engine)
    try:
        yield SPEC.create_app(ctx).test_client()
    finally:
        ctx.engine.dispose()


PAGES = {"board": "/ui/", "manifest": "/ui/plans/0b5d6c1e-0000-4000-8000-000000000001/manifest/VAN-1"}


class _Labels(HTMLParser):
    """Every piece of text and translatable attribute of a page, with what English it carries."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.found: list[tuple[str, str, str | None]] = []  # (where, Chinese text, its English)
        self.model: dict[str, Any] | None = None
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in TRANSLATED_ATTRS:
            if CJK.search(a.get(name, "")):
                self.found.append((f"<{tag}> @{name}", a[name], a.get(f"data-en-{name}")))
        if tag in ("script", "style"):
            self._script = a.get("id", "")
        if tag not in ("meta", "link", "input", "br", "img", "hr"):
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._script = None
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            if self._script == "dispatch-model":
                self.model = json.loads(data)
            return
        if CJK.search(data):
            tag, attrs = self.stack[-1] if self.stack else ("?", {})
            if attrs.get("id") in RUNTIME_LABELLED:
                return
            self.found.append((f"<{tag}>", data.strip(), attrs.get("data-en")))


def _labels(client: FlaskClient, page: str) -> _Labels:
    response = client.get(PAGES[page])
    assert response.status_code == 200
    parser = _Labels()
    parser.feed(response.get_data(as_text=True))
    return parser


def test_every_term_has_chinese_and_english_and_the_english_is_free_of_chinese() -> None:
    for kind, terms in TERMS.items():
        for key, (zh, en) in terms.items():
            assert zh and en, (kind, key)
            assert not CJK.search(en), f"{kind}.{key}: {en!r}"


def test_a_priority_is_one_word_per_level_and_never_the_rounds_word() -> None:
    """例行 is the rounds' word (例行收送); a priority word says nothing about rounds."""
    words = TERMS["priority"]
    assert sorted(words) == ["0", "1", "2", "3"]
    for lang in (0, 1):
        assert len({pair[lang] for pair in words.values()}) == 4
    assert words["1"] == ("普通", "Normal")
    others = [pair[0] for kind, terms in TERMS.items() if kind != "priority" for pair in terms.values()]
    assert not [(zh, o) for zh, _ in words.values() for o in others if zh in o]
    assert {int(level): zh for level, (zh, _) in words.items()} == PRIORITY_LABELS


def test_the_solvers_break_rules_are_terms_in_both_languages() -> None:
    """The board showed the solver's English break sentence on the Chinese page too; now by code."""
    notes = TERMS["break_note"]
    assert set(notes) == set(presentation.BREAK_NOTE_CODES)
    assert all(CJK.search(zh) and not CJK.search(en) for zh, en in notes.values())
    assert "D.TERMS.break_note[route.break_code]" in (STATIC / "board-plan.js").read_text(encoding="utf-8")


def test_the_manifest_api_labels_a_priority_with_the_terms_word() -> None:
    stops = {f"S{p}": {"site": f"S{p}", "name": f"站{p}", "priority": p} for p in range(4)}
    plan = {"id": "p1", "date": "2026-12-07", "status": "solved", "stop_refs": stops, "result": {"routes": [
        {"vehicle": "V", "start": "07:30", "end": "12:00", "distance_km": 9.0,
         "stops": [{"id": s, "arrival": "08:00", "start": "08:00", "departure": "08:10"} for s in stops]}]}}  # fmt: skip
    m = presentation.manifest(plan, "V", None, {}, {}, {})
    assert m is not None
    assert [(s["priority"], s["priority_label"]) for s in m["stops"]] == [
        (p, TERMS["priority"][str(p)][0]) for p in range(4)
    ]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_label_of_the_page_has_english_without_chinese_in_it(pages: FlaskClient, page: str) -> None:
    """Walk the page as English shows it: each Chinese text or attribute carries data-en (or
    data-en-<attribute>), and that English has no Chinese character or punctuation left."""
    labels = _labels(pages, page)
    assert labels.found, "the page has Chinese labels to walk"
    missing = [(where, zh) for where, zh, en in labels.found if en is None]
    chinese = [(where, zh, en) for where, zh, en in labels.found if en and CJK.search(en)]
    assert not missing, f"Chinese with no English on the {page}: {missing}"
    assert not chinese, f"English with Chinese in it on the {page}: {chinese}"


def test_the_board_and_the_manifest_carry_the_one_terms_table(pages: FlaskClient) -> None:
    """Both pages get the same table (the scripts read their words from it), equal to the API's."""
    board, manifest = _labels(pages, "board"), _labels(pages, "manifest")
    assert board.model is not None and manifest.model is not None
    expected = {kind: {key: list(pair) for key, pair in terms.items()} for kind, terms in TERMS.items()}
    assert board.model["terms"] == manifest.model["terms"] == expected


def test_compartment_headings_and_priority_choices_are_the_terms_words(pages: FlaskClient) -> None:
    board, manifest = _labels(pages, "board"), _labels(pages, "manifest")
    for page in (board, manifest):
        shown = {(zh, en) for _, zh, en in page.found}
        for c in (*DELIVERY_COMPARTMENTS, *PICKUP_COMPARTMENTS):
            assert TERMS["compartment"][c] in shown, c
    options = {(zh, en) for where, zh, en in board.found if where == "<option>"}
    for level, (zh, en) in TERMS["priority"].items():
        assert (f"{level} · {zh}", f"{level} · {en}") in options


def _code(js: str) -> str:
    """A script without its comments (they may quote Chinese freely)."""
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", js)


SCRIPTS = sorted(p.name for p in STATIC.glob("*.js"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_script_keeps_words_or_joiners_of_its_own(script: str) -> None:
    """Terms come from the table (D.PRIORITY, D.tripLabel, D.joined …), not from copies in a script:
    a copy is how 例行 and 普通 came apart. Lists are joined per language by D.joined, never with a
    Chinese joiner in English."""
    code = _code((STATIC / script).read_text(encoding="utf-8"))
    literals = re.findall(r"\"([^\"\n]*)\"|'([^'\n]*)'|`([^`]*)`", code)
    texts = [next(x for x in lit if x) for lit in literals if any(lit)]
    words = {pair[0] for kind, terms in TERMS.items() if kind != "pattern" for pair in terms.values()}
    copies = [text for text in texts if text in words]
    assert not copies, f"{script} spells terms itself: {copies}"
    assert not [text for text in texts if re.search(r"第.*趟", text)], (
        f"{script}: trips are named by D.tripLabel / D.tripPair"
    )
    joiners = re.findall(r"join\(\s*[\"'`]([^\"'`]*)[\"'`]\s*\)", code)
    assert not [j for j in joiners if CJK.search(j)], f"{script} joins with a Chinese joiner: {joiners}"
    assert '"、"' not in code and "priority_label" not in code
