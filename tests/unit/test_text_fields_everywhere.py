"""Every input field a person can type goes through the one text rule (shared/text.py).

The input schemas are found, not listed: every marshmallow schema of services/*/schemas*.py that is
not an answer (`...Out`), and every schema the four services' APIs register as arguments (body,
query). Their fields are walked (Nested, List, Dict keys and values, custom fields) to the leaves.
Each leaf must refuse U+202E RIGHT-TO-LEFT OVERRIDE: given it alone, at either end of a plausible
value, inside a list, a JSON object or a CSV cell, it either raises ValidationError or yields a value
without it. A field added later as a plain `fields.String` fails here.

Fields that are not free text may use their own check instead of `Text` (a choice, an anchored
regular expression, a number); the walk asks of them only that they refuse the characters too, and
that a regular expression is anchored with \\Z (``$`` matches before a final newline: "07:30\\n").
"""

from __future__ import annotations

import importlib
import pkgutil
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

import services
from shared.text import Text
from shared.web.responses import OpenSchema

RLO = "\u202e"
# Fields that may take such text as it comes, named here so the list cannot grow unseen: none now
# (the reference filters, their paging cursor and the CDS Hooks call id keep the rule too).
KNOWN_GAPS: frozenset[str] = frozenset()


def _schema_modules() -> list[Any]:
    out = []
    for pkg in pkgutil.iter_modules(services.__path__):
        folder = Path(services.__path__[0]) / pkg.name
        for path in sorted(folder.glob("schemas*.py")):
            if path.stem != "schemas_out":
                out.append(importlib.import_module(f"services.{pkg.name}.{path.stem}"))
    return out


def _is_input(name: str, obj: Any) -> bool:
    return (isinstance(obj, type) and issubclass(obj, Schema) and not issubclass(obj, OpenSchema)
            and not name.endswith("Out") and obj is not Schema and name != "Strict")  # fmt: skip


def _module_schemas() -> dict[str, type[Schema]]:
    found: dict[str, type[Schema]] = {}
    for module in _schema_modules():
        for name, obj in vars(module).items():
            if _is_input(name, obj) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _registered_schemas() -> dict[str, type[Schema]]:
    """Every schema the four apps register as arguments (flask-smorest keeps them on the views)."""
    from services.dispatch.app import SPEC as DISPATCH
    from services.formulary.app import SPEC as FORMULARY
    from services.prescription_review.app import SPEC as REVIEW
    from services.procurement.app import SPEC as PROCUREMENT
    from shared.runtime import build_context
    from tests.support.web import make_settings

    folder = tempfile.mkdtemp(prefix="countyhub-text-fields-")
    found: dict[str, type[Schema]] = {}
    for spec in (FORMULARY, PROCUREMENT, REVIEW, DISPATCH):
        ctx = build_context(spec, make_settings(spec.name, f"sqlite:///{folder}/{spec.name}.sqlite3"))
        try:
            app = spec.create_app(ctx)
            for view in app.view_functions.values():
                owner = getattr(view, "view_class", None)
                functions = [getattr(owner, m) for m in ("get", "post", "put", "patch", "delete") if hasattr(owner, m)] if owner else [view]
                for function in functions:
                    for parameter in (getattr(function, "_apidoc", None) or {}).get("arguments", {}).get("parameters", []):
                        schema = parameter["schema"]
                        cls = schema if isinstance(schema, type) else type(schema)
                        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        finally:
            ctx.engine.dispose()
    return found


MODULE_SCHEMAS = _module_schemas()
REGISTERED = _registered_schemas()
SCHEMAS = {**MODULE_SCHEMAS, **REGISTERED}


def _leaves(schema: Schema, prefix: str, seen: set[int]) -> Iterator[tuple[str, fields.Field]]:
    for name, field in schema.fields.items():
        if field.load_only is False and field.dump_only:
            continue
        yield from _walk(field, f"{prefix}.{field.data_key or name}", seen)


def _walk(field: fields.Field, path: str, seen: set[int]) -> Iterator[tuple[str, fields.Field]]:
    if isinstance(field, fields.Nested):
        nested = field.schema
        if id(type(nested)) not in seen:
            seen.add(id(type(nested)))
            yield from _leaves(nested, path, seen)
    elif isinstance(field, fields.List):
        yield from _walk(field.inner, f"{path}[]", seen)
    elif isinstance(field, fields.Dict):
        if field.key_field is not None:
            yield from _walk(field.key_field, f"{path}{{key}}", seen)
        if field.value_field is not None:
            yield from _walk(field.value_field, f"{path}{{value}}", seen)
    else:
        yield path, field


LEAVES: list[tuple[str, fields.Field]] = []
for _name, _cls in sorted(SCHEMAS.items()):
    LEAVES.extend(_leaves(_cls(), _name, set()))
STRING_LEAVES = [(p, f) for p, f in LEAVES if isinstance(f, fields.String)]
# Values a field of each kind could take, so the bad character is tried at the ends of something it accepts.
PLAUSIBLE = ("A1", "YP000174", "07:30", "2026-01", "I10", "bid", "遵医嘱", "all", "pending", "913700007628000001", "x")


def _carries(value: Any, bad: str) -> bool:
    if isinstance(value, str):
        return bad in value
    if isinstance(value, dict):
        return any(_carries(k, bad) or _carries(v, bad) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_carries(v, bad) for v in value)
    return False


def _probes(bad: str) -> list[Any]:
    texts = [bad, *(f"{p}{bad}" for p in PLAUSIBLE), *(f"{bad}{p}" for p in PLAUSIBLE), f"a{bad}b"]
    header = "id,name,a,b,level,message,source\n"
    return [*texts, [f"A1{bad}"], [f"YP000174{bad}"], {"reading": f"4.0{bad}"}, [{"message": f"x{bad}"}],
            f"{header}D1,x{bad},x,y,major,m,s\n"]  # fmt: skip


def _lets_through(field: fields.Field, bad: str) -> Any:
    """A probe the field accepts and yields the bad character back from, else None."""
    for probe in _probes(bad):
        try:
            value = field.deserialize(probe)
        except ValidationError:
            continue
        if _carries(value, bad):
            return probe
    return None


def test_the_schemas_are_found() -> None:
    """The walk sees the input schemas of all four services and their registered arguments."""
    for expected in ("services.dispatch.schemas.SolveIn", "services.formulary.schemas.ItemCreateIn",
                     "services.prescription_review.schemas.ScreeningIn", "services.prescription_review.schemas_work.PrescribersIn",
                     "services.procurement.schemas_purchasing.ReceiptIn", "services.procurement.schemas.RequisitionIn",
                     "services.formulary.schemas.ImportRow", "shared.reference_api.RefQuery"):  # fmt: skip
        assert expected in SCHEMAS, expected
    assert {name.split(".")[1] for name in REGISTERED if name.startswith("services.")} >= {
        "dispatch", "formulary", "prescription_review", "procurement"}
    assert not any(name.endswith("Out") for name in SCHEMAS)
    assert len(STRING_LEAVES) > 150, len(STRING_LEAVES)


@pytest.mark.parametrize(("path", "field"), LEAVES, ids=[p for p, _ in LEAVES])
def test_every_input_field_refuses_a_right_to_left_override(path: str, field: fields.Field) -> None:
    if any(path.startswith(gap) for gap in KNOWN_GAPS):
        assert _lets_through(field, RLO) is not None, f"{path} keeps the rule now: take it off KNOWN_GAPS"
        return
    through = _lets_through(field, RLO)
    assert through is None, f"{path} ({type(field).__name__}) accepted {through!r} and kept U+202E: use shared.text.Text"
    if isinstance(field, fields.String):
        with pytest.raises(ValidationError):
            field.deserialize(RLO)


@pytest.mark.parametrize(("path", "field"), STRING_LEAVES, ids=[p for p, _ in STRING_LEAVES])
def test_string_fields_are_text_or_strictly_checked(path: str, field: fields.String) -> None:
    """A string field that is not `Text` is a choice or an anchored pattern: nothing else can keep such characters out."""
    if isinstance(field, Text) or any(path.startswith(gap) for gap in KNOWN_GAPS):
        return
    validators = field.validators
    strict = [v for v in validators if isinstance(v, (validate.OneOf, validate.Equal, validate.Regexp))]
    assert strict, f"{path} is a plain String with only {validators}: use shared.text.Text"
    for v in validators:
        if isinstance(v, validate.Regexp):
            pattern = v.regex.pattern
            assert not pattern.endswith("$"), f"{path}: {pattern} ends in $ (matches before a final newline): use \\Z"


FORMAT_OR_CONTROL = st.characters(categories=["Cc", "Cf"]).filter(lambda ch: ch not in "\t\n\r\u200d")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaf=st.sampled_from([x for x in LEAVES if not any(x[0].startswith(g) for g in KNOWN_GAPS)]),
       bad=FORMAT_OR_CONTROL, where=st.integers(min_value=0, max_value=len(PLAUSIBLE) - 1))  # fmt: skip
def test_no_input_field_keeps_any_format_or_control_character(leaf: tuple[str, fields.Field], bad: str, where: int) -> None:
    """Any Cc (but tab, CR, LF) or Cf character (but ZWJ), anywhere in a value, never comes out of a field."""
    path, field = leaf
    assert unicodedata.category(bad) in ("Cc", "Cf")
    for probe in (f"{PLAUSIBLE[where]}{bad}", f"{bad}{PLAUSIBLE[where]}", f"{PLAUSIBLE[where][:1]}{bad}{PLAUSIBLE[where][1:]}",
                  [f"{PLAUSIBLE[where]}{bad}"]):  # fmt: skip
        try:
            value = field.deserialize(probe)
        except ValidationError:
            continue
        assert not _carries(value, bad), (path, probe, value)

