"""The one item search of the hub: index keys, query terms, matching, ranking and paging.

The formulary stores `item_keys(item).text` in its `search_text` column and pre-filters in SQL
with `like_filters`; every other service searches its read model (`ref_items`) with
`ReferenceIndex`. Both then order candidates with `sort_key` and page with `page_after`, so a
pharmacist finds the same items, in the same order, on every service's pages.

- Text goes through `shared.text.search_form` (NFKC, trimmed, lower-case): full-width `ａｍｘｌ`
  and `ＹＰ000007` are `amxl` and `yp000007`.
- A query is split on white space into terms; an item matches when every term is a substring of
  its keys (`阿莫西林 0.25g`, `amxl 胶囊`).
- Keys: code, generic name, generic name + dosage form as NMPA names products (阿莫西林 +
  胶囊剂 → 阿莫西林胶囊, 注射剂 → 注射液 / 注射用…), strength, trade name, English name,
  approval number, and pinyin (initials and full) of the names in every reading a character has
  (`shared.pinyin_readings`): 参松养心胶囊 is found by `ssyxjn` (shēn, as the Pharmacopoeia
  reads it) and by `csyxjn` (cān, the common misreading).
- Rank (issue 7 §6): 0 exact code, 1 name prefix, 2 pinyin prefix, 3 anything else; at equal
  rank essential medicines first, then by code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table

from shared.errors import InvalidInput
from shared.pinyin_readings import name_readings
from shared.reference_store import item_snapshots_of, item_stamps, items_fingerprint
from shared.text import search_form

# How NMPA product names spell each dosage form (中国药典 2020 通则 0100 制剂通则; 化学药品通用名称命名原则).
# 通则 0102: 注射剂 comprises 注射液, 注射用无菌粉末 (products named 注射用<name>) and 注射用浓溶液 (named <name>注射液).
FORM_SPELLINGS: dict[str, tuple[str, ...]] = {
    "注射剂": ("注射液", "注射用"),
    "注射用无菌粉末": ("注射用",),
    "注射用浓溶液": ("注射液",),
    "口服溶液剂": ("口服溶液", "口服液"),
    "滴眼剂": ("滴眼液",),
    "混悬剂": ("混悬液",),
}
SortKey = tuple[int, int, str]
MAX_TERMS = 8


class BadCursor(InvalidInput):
    """A paging cursor this API did not give out (or one that was altered)."""

    status = 400
    title = "Bad request"


@dataclass(frozen=True)
class SearchKeys:
    """What an item is found by: `text` (every key, '|'-joined) and `prefixes` (pinyin keys for rank 2)."""

    text: str
    prefixes: tuple[str, ...]


def form_spellings(form: str | None) -> tuple[str, ...]:
    """How a dosage form appears inside product names (胶囊剂 → 胶囊剂, 胶囊)."""
    if not form:
        return ()
    form = search_form(form)
    out = [form, *FORM_SPELLINGS.get(form, ())]
    if form.endswith("剂") and len(form) > 1:
        out.append(form[:-1])
    return tuple(dict.fromkeys(out))


def name_variants(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The generic name alone and as NMPA product names with its form (lower-case, normalised)."""
    return _name_variants(item.get("generic_name") or "", item.get("dosage_form") or "")


@lru_cache(maxsize=65536)
def _name_variants(generic_name: str, dosage_form: str) -> tuple[str, ...]:
    name = search_form(generic_name)
    if not name:
        return ()
    out = [name]
    for spelling in form_spellings(dosage_form):
        out.append(spelling + name if spelling == "注射用" else name + spelling)
    return tuple(dict.fromkeys(out))


def item_keys(item: Mapping[str, Any]) -> SearchKeys:
    """The index keys of one item (a dict with the catalogue's field names)."""
    names = name_variants(item)
    prefixes: list[str] = []
    for i, name in enumerate(names[:2]):
        initials, full = name_readings(name, limit=24 if i == 0 else 8)
        prefixes += initials + full
    trade = search_form(item.get("trade_name") or "")
    if trade:
        initials, _full = name_readings(trade, limit=4)
        prefixes += initials
    plain = [
        search_form(str(item.get(k) or ""))
        for k in ("code", "generic_name_en", "trade_name", "strength", "approval_no", "dosage_form")
    ]
    strength = search_form(item.get("strength") or "")
    combos = [n + strength for n in names if strength]
    keys = list(dict.fromkeys([*names, *combos, *plain, *prefixes]))
    prefixes = list(dict.fromkeys(prefixes))
    return SearchKeys("|".join(k for k in keys if k), tuple(p for p in prefixes if p))


def query_terms(q: str | None) -> tuple[str, ...]:
    """A query as terms: normalised, lower-case, split on white space (at most MAX_TERMS)."""
    if not q:
        return ()
    terms = [t.replace("|", "") for t in search_form(q).split()]
    return tuple(t for t in terms if t)[:MAX_TERMS]


def matches(text: str, terms: Sequence[str]) -> bool:
    """True when every term is found in the keys' text."""
    return all(t in text for t in terms)


def rank(item: Mapping[str, Any], prefixes: Iterable[str], terms: Sequence[str]) -> int:
    """0 exact code, 1 name prefix, 2 pinyin prefix, 3 any other match (lower is better)."""
    if not terms:
        return 0
    compact = "".join(terms)
    if search_form(str(item.get("code") or "")) == compact:
        return 0
    first = terms[0]
    names = [*name_variants(item), search_form(item.get("generic_name_en") or "")]
    if any(n and (n.startswith(compact) or n.startswith(first)) for n in names):
        return 1
    if any(p.startswith(compact) or p.startswith(first) for p in prefixes):
        return 2
    return 3


def sort_key(item: Mapping[str, Any], prefixes: Iterable[str], terms: Sequence[str]) -> SortKey:
    """Order of results: rank, essential medicines first at equal rank, then code."""
    essential = 0 if (item.get("essential") and terms) else 1 if terms else 0
    return (rank(item, prefixes, terms), essential, str(item.get("code") or ""))


def encode_cursor(key: SortKey) -> str:
    """An opaque cursor for the position after `key`."""
    return base64.urlsafe_b64encode(json.dumps(list(key), ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> SortKey | None:
    """The position a cursor names; BadCursor (400) for anything this API did not give out."""
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        r, e, c = raw
        if type(r) is not int or type(e) is not int or not isinstance(c, str) or not (0 <= r <= 3 and e in (0, 1)):
            raise ValueError("bad cursor")
        check_position_value(c)
        return (r, e, c)
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc


def check_position_value(value: object) -> None:
    """ValueError for a cursor value no list could have given out and no database can hold (NUL, lone surrogates,
    integers beyond 64 bits): such a tampered cursor is a 400, never a database error."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL in cursor")
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates
    elif isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError("integer out of range")


def encode_position(values: Sequence[Any]) -> str:
    """An opaque cursor for a list position (JSON, base64url without padding; dates as ISO 8601)."""
    return base64.urlsafe_b64encode(json.dumps(list(values), default=str).encode()).decode().rstrip("=")


def decode_position(cursor: str | None, types: Sequence[type]) -> list[Any] | None:
    """The list position a cursor names, checked against the expected types; BadCursor otherwise."""
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError("shape")
        if not all(type(v) is t for v, t in zip(raw, types, strict=True)):
            raise ValueError("types")
        for value in raw:
            check_position_value(value)
        return raw
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc


def like_filters(column: Any, terms: Sequence[str]) -> list[ColumnElement[bool]]:
    """SQL pre-filter: every term is a substring of the stored keys text (the same test as `matches`)."""
    out = []
    for term in terms:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        out.append(column.like(f"%{escaped}%", escape="\\"))
    return out


def page_after(
    ranked: Iterable[tuple[SortKey, Any]], after: SortKey | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of (key, value) pairs after the cursor position, and the next cursor (None at the end)."""
    ordered = sorted((p for p in ranked if after is None or p[0] > after), key=lambda p: p[0])
    page = ordered[:limit]
    next_cursor = encode_cursor(page[-1][0]) if len(ordered) > limit and page else None
    return [v for _k, v in page], next_cursor


class ReferenceIndex:
    """Search over a service's `ref_items` read model, with keys cached per item version.

    The cache is refreshed when the table's row count or newest `updated_at` changes, so an
    approved change is searchable as soon as its event has been consumed; a refresh re-reads and
    re-keys only the rows whose (version, updated_at) changed.
    """

    def __init__(self) -> None:
        self._fingerprint: Any = None
        self._rows: dict[str, tuple[dict[str, Any], SearchKeys]] = {}  # code -> (snapshot, keys), in code order
        self._stamps: dict[str, Any] = {}  # code -> (version, updated_at) the cached row was read at

    def _refresh(self, session: Session, table: Table) -> None:
        """Re-read only the rows written since the last refresh (by version and updated_at) and compute
        their keys; unchanged items keep theirs (keys of 10,000 names take seconds to compute)."""
        stamps = item_stamps(session, table)
        changed = [code for code, stamp in stamps.items() if self._stamps.get(code) != stamp]
        fresh = item_snapshots_of(session, table, changed)
        rows = {}
        for code in stamps:
            if code in fresh:
                rows[code] = (fresh[code], item_keys(fresh[code]))
            elif code in self._rows:
                rows[code] = self._rows[code]
        self._rows, self._stamps = rows, {c: stamps[c] for c in rows}

    def search(
        self, session: Session, table: Table, q: str | None, *, limit: int, cursor: str | None,
        codes: set[str] | None = None, include_retired: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Snapshots matching q, best first; `codes` narrows to a stocking list."""
        after = decode_cursor(cursor)
        fingerprint = items_fingerprint(session, table)
        if fingerprint != self._fingerprint:
            self._refresh(session, table)
            self._fingerprint = fingerprint
        terms = query_terms(q)
        ranked = (
            (sort_key(s, k.prefixes, terms), s)
            for s, k in self._rows.values()
            if (include_retired or s.get("status") != "retired")
            and (codes is None or s.get("code") in codes)
            and matches(k.text, terms)
        )
        return page_after(ranked, after, limit)
