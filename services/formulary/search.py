"""Search keys for drugs: what a Chinese HIS user types (拼音首字母, code, name)."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin


def pinyin_initials(text: str | None) -> str:
    """Lower-case pinyin initials of the Chinese characters, other letters and digits kept (阿莫西林 -> amxl)."""
    if not text:
        return ""
    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return "".join(p for p in "".join(parts).lower() if p.isalnum())


def pinyin_full(text: str | None) -> str:
    """Lower-case full pinyin without tones or spaces (阿莫西林 -> amoxilin)."""
    if not text:
        return ""
    parts = lazy_pinyin(text, errors="default")
    return "".join(p for p in "".join(parts).lower() if p.isalnum())


def search_text(item: dict[str, str | None]) -> str:
    """One lower-case haystack for substring search over every searchable field."""
    fields = (item.get("code"), item.get("generic_name"), item.get("generic_name_en"), item.get("trade_name"))
    keys = [f.lower() for f in fields if f]
    keys += [pinyin_initials(item.get("generic_name")), pinyin_full(item.get("generic_name"))]
    if item.get("trade_name"):
        keys.append(pinyin_initials(item.get("trade_name")))
    return "|".join(k for k in keys if k)
