"""One normalisation rule for text at the edge: the API, the imports and the search use it alike.

Rule (issue 7 §3):
- Unicode NFKC (UAX #15): full-width letters and digits typed with a Chinese IME in full-width
  mode (`ＹＰ０００００７`, `ａｍｘｌ`) become ASCII; the ideographic space U+3000 becomes U+0020.
- Free text (notes, reasons: `multiline=True`) is NFC instead, so its Chinese punctuation (，：（）)
  stays as written; U+3000 at its ends is still trimmed.
- Leading and trailing white space is trimmed (after NFKC, so U+3000 and U+00A0 go too); runs of
  white space inside are kept as one space.
- Control characters (Unicode category Cc other than tab, CR and LF, which are white space, and every
  Cf format character such as U+200B, U+FEFF) are refused, NUL included: they are never what a
  person meant, and PostgreSQL cannot store NUL in text.
- A value that is empty after trimming is "not given" (None) for optional fields and refused for
  required ones.
- Codes (catalogue codes, tax ids, ATC, NHSA codes) are upper-case by their standards
  (GB 32100-2015 for 统一社会信用代码, WHO ATC index, NHSA 医保编码): `code()` upper-cases.

`normalise(normalise(x)) == normalise(x)` for every string (a property test checks it).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from marshmallow import ValidationError, fields

_SPACES = re.compile(r"\s+")


class BadText(ValueError):
    """Text that carries characters no person meant to send (control or format characters)."""


def _refuse_controls(text: str, multiline: bool) -> None:
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\t\n\r":  # white space, collapsed (single-line) or kept (notes)
            raise BadText(f"含有控制字符 U+{ord(ch):04X} (contains the control character U+{ord(ch):04X})")
        if cat in ("Cf", "Cs", "Co", "Cn") and ch not in "\u200d":  # ZWJ is part of some scripts' text
            raise BadText(f"含有不可见字符 U+{ord(ch):04X} (contains the invisible character U+{ord(ch):04X})")


def refuse_controls(text: str) -> None:
    """Raise BadText if `text` holds a control or format character the rule refuses (NUL, U+202E, U+200B …).

    The same check `normalise` and `Text` make, for paths that keep text as sent (import cells, JSON
    readings): tab, CR and LF pass, as does ZWJ.
    """
    _refuse_controls(text, True)


def first_invisible(text: str) -> str | None:
    """The first character of `text` in any Unicode "other" category (Cc, Cf, Cs, Co, Cn), or None.

    Stricter than `refuse_controls`, for identifiers sent in headers (Idempotency-Key): tab, CR, LF
    and ZWJ are refused too, as are U+0080–U+009F (the C1 controls a UTF-8 header read as latin-1
    shows: U+202E arrives as "â\x80®"), U+202E and U+200B — a key no person can see or retype.
    """
    return next((ch for ch in text if unicodedata.category(ch)[0] == "C"), None)


def normalise(text: str, *, multiline: bool = False) -> str:
    """NFKC, control characters refused, trimmed; single-line text has inner white space collapsed.

    Raises BadText for control/format characters. Returns "" for white space only.
    """
    # Free text (notes, reasons) keeps its Chinese punctuation (，：（）): canonical NFC only there.
    text = unicodedata.normalize("NFC" if multiline else "NFKC", text)
    _refuse_controls(text, multiline)
    if multiline:
        return "\n".join(line.strip() for line in text.strip().splitlines())
    return _SPACES.sub(" ", text).strip()


def code(text: str) -> str:
    """A code as its standard writes it: normalised, no inner spaces, upper-case."""
    return normalise(text).replace(" ", "").upper()


@lru_cache(maxsize=65536)
def search_form(text: str) -> str:
    """The form both the index and a query take: normalised and lower-case (never raises)."""
    try:
        return normalise(text).lower()
    except BadText:
        return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch)[0] != "C").lower().strip()


class Text(fields.String):
    """A marshmallow String that applies the rule: NFKC, trimmed, controls refused.

    `upper=True` for codes; `multiline=True` for notes and reasons. Blank input is refused when
    the field is required and becomes None (not given) otherwise.
    """

    def __init__(self, *args: Any, upper: bool = False, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upper = upper
        self.multiline = multiline

    def _validate(self, value: Any) -> None:
        if value is not None:  # blank optional text is "not given": nothing to validate
            super()._validate(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            text = code(raw) if self.upper else normalise(raw, multiline=self.multiline)
        except BadText as exc:
            raise ValidationError(str(exc)) from exc
        if text == "":
            if self.required:
                raise ValidationError("不能为空 (may not be blank)")
            return None
        return text


class TextKeyDict(fields.Dict):
    """A marshmallow Dict whose keys go through the rule (``keys=Text(...)``): two keys the rule makes
    equal ("A" and full-width "Ａ", or "A " and "A") are refused naming the later one, never merged
    silently with the last value winning."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        out = super()._deserialize(value, attr, data, **kwargs)
        if isinstance(value, dict) and len(out) < len(value) and self.key_field is not None:
            first: dict[Any, str] = {}
            errors: dict[str, list[str]] = {}
            for raw in value:
                key = self.key_field.deserialize(raw)
                if key in first:
                    errors[raw] = [f"与键 {first[key]!r} 规范化后相同 (the same key as {first[key]!r} once normalised)"]
                else:
                    first[key] = raw
            if errors:
                raise ValidationError(errors)
        return out


class WholeNumber(fields.Integer):
    """A whole number on every path: 24, "24", "２４", 24.0 (an Excel cell) pass; 1.5, "1.5", true fail."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("须为整数 (must be a whole number)")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValidationError("须为整数 (must be a whole number)")
            value = int(value)
        elif isinstance(value, str):
            try:
                value = normalise(value)
            except BadText as exc:
                raise ValidationError(str(exc)) from exc
            if not re.fullmatch(r"[+-]?\d+(\.0+)?", value):
                raise ValidationError("须为整数 (must be a whole number)")
            value = int(value.split(".")[0])
        elif not isinstance(value, int):
            raise ValidationError("须为整数 (must be a whole number)")
        return super()._deserialize(value, attr, data, **kwargs)
