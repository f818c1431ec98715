"""Import the knowledge base from CSV or JSON rows, with a validation report. Pure Python.

Tables and their columns (multi-valued cells are `;`-separated; empty cell = none):

| table | columns |
| --- | --- |
| classes | name, member, duplicate, source |
| interactions | a, b, level (contraindicated/major/moderate), message, source |
| doses | drug, route_group (oral/injection/any), age_min, age_max, basis (per_dose/per_kg), unit (mg/IU/ml), single_min, single_max, daily_min, daily_max, source |
| contraindications, indications | drug, icd_prefixes, message, source |
| pregnancy, lactation | drug, message, source |
| ages | drug, age_min, age_max, message, source |
| allergies | name, aliases, members, cross, source |
| routes | drug, forbidden, message, source |
| chronic | icd_prefix, name, source |

Every row must name its source. The report lists errors (row, field, message: the import is
refused if there are any), warnings (references to generic names the catalogue does not have)
and coverage of the catalogue's generic names.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.prescription_review.model.knowledge import (
    DDI_LEVELS,
    DOSE_BASES,
    DOSE_UNITS,
    ROUTE_GROUPS,
    AgeRule,
    AllergyClass,
    ChronicCondition,
    DiagnosisRule,
    DoseRange,
    DrugClass,
    Interaction,
    KnowledgeBase,
    PopulationRule,
    RouteRule,
)
from services.prescription_review.model.prescription import ROUTES
from shared.text import BadText, refuse_controls

TABLES = (
    "classes", "interactions", "doses", "contraindications", "indications", "pregnancy", "lactation",
    "ages", "allergies", "routes", "chronic",
)  # fmt: skip
ICD = re.compile(r"^[A-Z][0-9A-Z.]{0,7}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


class RowError(ValueError):
    """A bad cell: names the field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class ImportReport:
    """What an import found: errors refuse it; warnings and coverage inform."""

    version: str
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of the report."""
        return {"version": self.version, "ok": self.ok, "counts": self.counts, "errors": self.errors,
                "warnings": self.warnings, "coverage": self.coverage}  # fmt: skip


def _cell_text(name: str, value: Any) -> str:
    """One cell as text: a string (or a number, as a spreadsheet may give it) that passes the text rule
    (shared/text.py: NUL, U+202E, U+200B … refused). Any other JSON shape (an object, a list, true/false)
    is refused, never turned into its Python spelling ("{'k': 'v'}", "[['x']]")."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(name, "不是文本 (not text)")
    text = str(value)
    try:
        refuse_controls(text)
    except BadText as exc:
        raise RowError(name, str(exc)) from None
    return text.strip()


def _text(row: Mapping[str, Any], name: str, required: bool = True, max_len: int = 500) -> str:
    value = row.get(name)
    text = "" if value is None else _cell_text(name, value)
    if required and not text:
        raise RowError(name, "required")
    if len(text) > max_len:
        raise RowError(name, f"at most {max_len} characters")
    return text


def _num(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowError(name, "not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(name, "not a number") from None
    if not (0 <= number < 1e9):
        raise RowError(name, "must be between 0 and 1e9")
    return number


def _choice(row: Mapping[str, Any], name: str, choices: Iterable[str]) -> str:
    value = _text(row, name)
    options = tuple(choices)
    if value not in options:
        raise RowError(name, f"one of {', '.join(options)}")
    return value


def _list(row: Mapping[str, Any], name: str, required: bool = True) -> tuple[str, ...]:
    value = row.get(name)
    items = [_cell_text(name, v) for v in value if v is not None] if isinstance(value, list) else _text(row, name, required, 4000).split(";")
    items = [i for i in items if i]
    if required and not items:
        raise RowError(name, "required")
    return tuple(items)


def _drug(row: Mapping[str, Any], name: str = "drug") -> str:
    ref = _text(row, name, max_len=200)
    if ref.startswith("atc:") and not re.fullmatch(r"atc:[A-Z][0-9A-Z]{0,6}", ref):
        raise RowError(name, "atc: followed by an ATC prefix such as J01")
    return ref


def _icds(row: Mapping[str, Any], name: str = "icd_prefixes") -> tuple[str, ...]:
    codes = tuple(c.upper() for c in _list(row, name))
    bad = [c for c in codes if not ICD.match(c)]
    if bad:
        raise RowError(name, f"not ICD-10 codes: {', '.join(bad[:3])}")
    return codes


def _bool(row: Mapping[str, Any], name: str) -> bool:
    value = row.get(name)
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in ("true", "1", "yes", "是", "y"):
        return True
    if text in ("false", "0", "no", "否", "n", ""):
        return False
    raise RowError(name, "true or false")


def _age_band(lo: float | None, hi: float | None) -> None:
    if lo is not None and hi is not None and hi <= lo:
        raise RowError("age_max", "must be above age_min")


def _dose(row: Mapping[str, Any]) -> DoseRange:
    r = DoseRange(
        drug=_drug(row), route_group=_choice(row, "route_group", ROUTE_GROUPS), age_min=_num(row, "age_min"),
        age_max=_num(row, "age_max"), basis=_choice(row, "basis", DOSE_BASES), unit=_choice(row, "unit", DOSE_UNITS),
        single_min=_num(row, "single_min"), single_max=_num(row, "single_max"), daily_min=_num(row, "daily_min"),
        daily_max=_num(row, "daily_max"), source=_text(row, "source"),
    )  # fmt: skip
    _age_band(r.age_min, r.age_max)
    for lo, hi in (("single_min", "single_max"), ("daily_min", "daily_max")):
        a, b = getattr(r, lo), getattr(r, hi)
        if a is not None and b is not None and b < a:
            raise RowError(hi, f"must not be below {lo}")
    if all(getattr(r, k) is None for k in ("single_min", "single_max", "daily_min", "daily_max")):
        raise RowError("single_max", "a dose range needs at least one limit")
    return r


def _ages(row: Mapping[str, Any]) -> AgeRule:
    r = AgeRule(_drug(row), _num(row, "age_min"), _num(row, "age_max"), _text(row, "message"), _text(row, "source"))
    if r.age_min is None and r.age_max is None:
        raise RowError("age_min", "give age_min or age_max")
    _age_band(r.age_min, r.age_max)
    return r


def _routes(row: Mapping[str, Any]) -> RouteRule:
    forbidden = _list(row, "forbidden")
    bad = [f for f in forbidden if f not in ROUTES]
    if bad:
        raise RowError("forbidden", f"unknown routes {', '.join(bad)}; one of {', '.join(ROUTES)}")
    return RouteRule(_drug(row), forbidden, _text(row, "message"), _text(row, "source"))


def _interaction(row: Mapping[str, Any]) -> Interaction:
    a, b = _drug(row, "a"), _drug(row, "b")
    if a == b:
        raise RowError("b", "a drug does not interact with itself")
    return Interaction(a, b, _choice(row, "level", DDI_LEVELS), _text(row, "message"), _text(row, "source"))


BUILDERS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "classes": lambda r: DrugClass(_text(r, "name", max_len=60), _drug(r, "member"), _bool(r, "duplicate"), _text(r, "source")),
    "interactions": _interaction,
    "doses": _dose,
    "contraindications": lambda r: DiagnosisRule(_drug(r), _icds(r), _text(r, "message"), _text(r, "source")),
    "indications": lambda r: DiagnosisRule(_drug(r), _icds(r), _text(r, "message"), _text(r, "source")),
    "pregnancy": lambda r: PopulationRule(_drug(r), _text(r, "message"), _text(r, "source")),
    "lactation": lambda r: PopulationRule(_drug(r), _text(r, "message"), _text(r, "source")),
    "ages": _ages,
    "allergies": lambda r: AllergyClass(_text(r, "name", max_len=60), _list(r, "aliases", False), _list(r, "members"),
                                        _list(r, "cross", False), _text(r, "source")),
    "routes": _routes,
    "chronic": lambda r: ChronicCondition(_icds(r, "icd_prefix")[0], _text(r, "name"), _text(r, "source")),
}


class CsvError(ValueError):
    """CSV text the csv module cannot read (an unbalanced quote running past the field size limit)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line} is not valid CSV: {message}")
        self.line = line


def read_csv(text: str) -> list[dict[str, str]]:
    """Rows of a CSV text (UTF-8, header row; a BOM is tolerated). Raises CsvError naming the line
    the unreadable record began on (counted from 1).

    Strict (RFC 4180 §2 rules 5-7): a quote left open at the end of the text, or text after a
    closing quote, is an error; the csv module's lenient default reads the rest of the file into one
    field, so the rows after an unclosed quote silently became part of one cell.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    rows: list[dict[str, str]] = []
    started = 1  # the line the record being read began on
    try:
        if reader.fieldnames is not None:  # the header row
            started = reader.line_num + 1
            twice = sorted(n for n, k in Counter(reader.fieldnames).items() if n and k > 1)  # linear: a header may be wide
            if twice:  # the reader kept the last column of that name: the first one's values were lost unseen
                raise CsvError(1, f"column {twice[0]} appears twice in the header")
        for row in reader:
            rows.append(row)
            started = reader.line_num + 1
    except csv.Error as exc:
        raise CsvError(started, str(exc)) from exc
    return rows


def parse_tables(
    version: str,
    tables: Mapping[str, str | list[Mapping[str, Any]]],
    generic_names: Iterable[str] = (),
    base: KnowledgeBase | None = None,
) -> tuple[KnowledgeBase | None, ImportReport]:
    """Build a KnowledgeBase from tables given as CSV text or row lists; replace `base`'s tables.

    Returns (knowledge or None when there are errors, the report). `generic_names` are the
    catalogue's, for warnings about unknown drugs and the coverage figures.
    """
    report = ImportReport(version=version)
    if not VERSION.match(version or ""):
        report.errors.append({"table": None, "row": None, "field": "version", "message": "1–40 letters, digits, . _ -"})
    parsed: dict[str, tuple[object, ...]] = {}
    for name, content in tables.items():
        if name not in BUILDERS:
            report.errors.append({"table": name, "row": None, "field": "tables", "message": f"unknown table; one of {', '.join(TABLES)}"})
            continue
        try:
            rows = read_csv(content) if isinstance(content, str) else list(content)
        except CsvError as exc:
            report.errors.append({"table": name, "row": exc.line, "field": "csv", "message": str(exc)})
            continue
        built: list[object] = []
        for n, row in enumerate(rows, start=1):
            if not isinstance(row, Mapping):
                report.errors.append({"table": name, "row": n, "field": None, "message": "a row must be an object"})
                continue
            try:
                built.append(BUILDERS[name](row))
            except RowError as exc:
                report.errors.append({"table": name, "row": n, "field": exc.field, "message": exc.message})
        parsed[name] = tuple(built)
    merged = {t: getattr(base, t) if base is not None else () for t in TABLES}
    merged.update(parsed)
    kb = KnowledgeBase(version=version, **merged)  # type: ignore[arg-type]
    report.counts = kb.counts()
    _cross_check(kb, set(generic_names), report)
    return (kb if report.ok else None), report


def _cross_check(kb: KnowledgeBase, names: set[str], report: ImportReport) -> None:
    classes = {c.name for c in kb.classes}
    allergy = {a.name for a in kb.allergies}
    for ref in sorted(kb.drug_refs() | {c.member for c in kb.classes}):
        if ref.startswith("class:") and ref[6:] not in classes:
            report.errors.append({"table": None, "row": None, "field": "drug", "message": f"{ref} is not defined in classes"})
        elif names and not ref.startswith(("class:", "atc:")) and ref not in names:
            report.warnings.append({"field": "drug", "message": f"{ref} is not a generic name in the catalogue"})
    for a in kb.allergies:
        for x in a.cross:
            if x not in allergy:
                report.errors.append({"table": "allergies", "row": None, "field": "cross", "message": f"{x} is not an allergy class"})
    if names:
        direct = {r.drug for r in kb.doses}
        report.coverage = {
            "catalogue_generic_names": len(names),
            "with_dose_range": len(names & direct),
            "in_interactions": len(names & ({i.a for i in kb.interactions} | {i.b for i in kb.interactions})),
        }


def load_directory(folder: Path, version: str, generic_names: Iterable[str] = ()) -> tuple[KnowledgeBase | None, ImportReport]:
    """Import every <table>*.csv in a folder (several files per table are concatenated)."""
    tables: dict[str, list[Mapping[str, Any]]] = {}
    for path in sorted(folder.glob("*.csv")):
        table = next((t for t in TABLES if path.stem == t or path.stem.startswith(t + "_")), None)
        if table is not None:
            tables.setdefault(table, []).extend(read_csv(path.read_text(encoding="utf-8")))
    return parse_tables(version, tables, generic_names)


SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_VERSION = "sample-2026.11"


def load_sample(generic_names: Iterable[str] = ()) -> KnowledgeBase:
    """The bundled sample knowledge (raises ValueError if it does not validate)."""
    kb, report = load_directory(SAMPLE_DIR, SAMPLE_VERSION, generic_names)
    if kb is None:
        raise ValueError(f"bundled knowledge is invalid: {report.errors[:5]}")
    return kb


def kb_to_tables(kb: KnowledgeBase) -> dict[str, list[dict[str, Any]]]:
    """The knowledge as row lists per table (JSON-ready; `parse_tables` reads it back)."""
    from dataclasses import asdict

    out: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        rows = []
        for row in getattr(kb, table):
            d = asdict(row)
            rows.append({k: list(v) if isinstance(v, tuple) else v for k, v in d.items()})
        out[table] = rows
    return out
