"""Pinyin keys of drug and consumable names in every reading a character has (for `shared.search`).

pypinyin's phrase dictionary gives one reading in context (参松养心 → cān…); its heteronym mode
gives every reading of a single character (参 → cān, cēn, shēn). Drug names add readings of their
own, which the table below names with its source. The keys of a name are:

1. the reading in context (pypinyin's phrase dictionary);
2. the pharmacy reading (the table below applied to every character it lists);
3. for each polyphonic character, each of its other readings alone (so one misread character,
   the usual mistake, still finds the item).

Variants are generated one substitution at a time rather than as a cross product, so a name with
many polyphonic characters has a linear, capped number of keys (the benchmark checks the cost).
"""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin, pinyin

# Readings used in drug names. Sources: 中华人民共和国药典 2020年版 (the 汉语拼音名 of each monograph:
# 一部 for the traditional medicines, 二部 for chemical drugs) and 现代汉语词典 第7版 for 荨.
PHARMACY_READINGS: dict[str, tuple[str, str]] = {
    "参": ("shen", "药典一部 人参 Renshen, 党参 Dangshen, 丹参 Danshen; 参松养心胶囊 Shensong Yangxin Jiaonang"),
    "术": ("zhu", "药典一部 白术 Baizhu, 苍术 Cangzhu, 莪术 Ezhu"),
    "朴": ("po", "药典一部 厚朴 Houpo"),
    "阿": ("e", "药典一部 阿胶 Ejiao"),
    "茜": ("qian", "药典一部 茜草 Qiancao"),
    "蛤": ("ge", "药典一部 蛤蚧 Gejie"),
    "薄": ("bo", "药典一部 薄荷 Bohe"),
    "柏": ("bai", "药典一部 柏子仁 Baiziren, 侧柏叶 Cebaiye"),
    "降": ("jiang", "药典一部 降香 Jiangxiang"),
    "芫": ("yuan", "药典一部 芫花 Yuanhua"),
    "藏": ("zang", "药典一部 藏菖蒲 Zangchangpu"),
    "大": ("da", "药典一部 大黄 Dahuang"),
    "重": ("chong", "药典三部 重组人胰岛素 Chongzu Ren Yidaosu"),
    "单": ("dan", "药典二部 单硝酸异山梨酯 Danxiaosuan Yishanlizhi"),
    "地": ("di", "药典二部 地塞米松 Disaimisong, 地高辛 Digaoxin"),
    "乐": ("le", "药典二部 乐卡地平 (盐酸乐卡地平片 Yansuan Lekadiping Pian)"),
    "荨": ("xun", "现代汉语词典 第7版: 荨麻疹 xúnmázhěn"),
    "蔓": ("man", "药典一部 蔓荆子 Manjingzi"),
    "枸": ("gou", "药典一部 枸杞子 Gouqizi"),
    "葛": ("ge", "药典一部 葛根 Gegen"),
}
MAX_READINGS_PER_CHAR = 4


def _clean(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@lru_cache(maxsize=4096)
def _char_readings(ch: str) -> tuple[str, ...]:
    """Every reading of one character: the pharmacy reading first, then pypinyin's heteronyms."""
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="default")
    readings = [r.lower() for r in (found[0] if found else [])]
    if ch in PHARMACY_READINGS:
        readings.insert(0, PHARMACY_READINGS[ch][0])
    return tuple(dict.fromkeys(readings))[:MAX_READINGS_PER_CHAR]


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


@lru_cache(maxsize=65536)
def name_readings(name: str, limit: int = 24) -> tuple[list[str], list[str]]:
    """(initials keys, full-pinyin keys) of a name, at most `limit` of each (see the module docstring)."""
    if not name:
        return [], []
    tokens = lazy_pinyin(name, errors=lambda s: list(s))  # type: ignore[arg-type,return-value]
    chars = list(name)
    if len(tokens) != len(chars):  # pypinyin joined a non-Han run: fall back to one token per character
        tokens = [lazy_pinyin(ch)[0] if _is_han(ch) else ch for ch in chars]
    tokens = [t.lower() for t in tokens]
    variants: list[list[str]] = [tokens]
    pharmacy = [PHARMACY_READINGS[c][0] if c in PHARMACY_READINGS else t for c, t in zip(chars, tokens, strict=True)]
    variants.append(pharmacy)
    for i, ch in enumerate(chars):
        if not _is_han(ch):
            continue
        for reading in _char_readings(ch):
            if reading != tokens[i]:
                variants.append([*tokens[:i], reading, *tokens[i + 1:]])
    initials: list[str] = []
    full: list[str] = []
    for v in variants:
        initials.append(_clean("".join(t[:1] for t in v)))
        full.append(_clean("".join(v)))
    return list(dict.fromkeys(initials))[:limit], list(dict.fromkeys(full))[:limit]


def pinyin_initials(text: str | None) -> str:
    """The in-context initials of a name (阿莫西林 → amxl, 维生素B12 → wssb12)."""
    return name_readings(text or "", 1)[0][0] if text else ""


def pinyin_full(text: str | None) -> str:
    """The in-context full pinyin without tones or spaces (阿莫西林 → amoxilin)."""
    return name_readings(text or "", 1)[1][0] if text else ""
