"""Pure rules of issue 7: the one normalisation, the one search, the file reader."""

from __future__ import annotations

import io

import pytest

from services.formulary.importing import UnreadableFile, decode, read_table
from services.formulary.model import children_problems, item_flags, selector_problem
from shared.pinyin_readings import PHARMACY_READINGS, name_readings
from shared.search import BadCursor, decode_cursor, encode_cursor, item_keys, matches, query_terms, rank
from shared.text import BadText, code, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ＹＰ０００００７", "YP000007"), ("\u3000阿莫西林\u3000", "阿莫西林"), ("a \t b", "a b"), ("ａｍｘｌ", "amxl")],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected or code(raw) == expected


@pytest.mark.parametrize("raw", ["a\x00b", "a\x07", "a\u200bb", "\ufeff编码"])
def test_control_and_invisible_characters_are_refused(raw: str) -> None:
    with pytest.raises(BadText):
        normalise(raw)


def test_every_pharmacy_reading_names_its_source() -> None:
    assert all(len(reading) and source for reading, source in PHARMACY_READINGS.values())


def test_heteronyms_give_the_right_reading_and_the_common_misreading() -> None:
    initials, full = name_readings("参松养心胶囊")
    assert {"ssyxjn", "csyxjn"} <= set(initials) and "shensongyangxinjiaonang" in full
    assert "bz" in name_readings("白术")[0] and "bs" in name_readings("白术")[0]


def test_search_keys_terms_and_rank() -> None:
    item = {"code": "YP1", "generic_name": "阿莫西林", "dosage_form": "胶囊剂", "strength": "0.25g", "essential": True}
    keys = item_keys(item)
    assert matches(keys.text, query_terms("阿莫西林胶囊 0.25g")) and matches(keys.text, query_terms("ａｍｘｌ"))
    assert not matches(keys.text, query_terms("amxl 片"))
    assert rank(item, keys.prefixes, query_terms("yp1")) == 0
    assert rank(item, keys.prefixes, query_terms("阿莫")) == 1
    assert rank(item, keys.prefixes, query_terms("amx")) == 2
    assert rank(item, keys.prefixes, query_terms("0.25g")) == 3


@pytest.mark.parametrize("cursor", ["", "x", "W10", "WzEsMSwiYSIsMV0", "WzQsMCwiYSJd", "WyIxIiwwLCJhIl0"])
def test_cursors_round_trip_and_tampering_is_refused(cursor: str) -> None:
    assert decode_cursor(encode_cursor((2, 1, "YP1"))) == (2, 1, "YP1")
    if cursor:
        with pytest.raises(BadCursor):
            decode_cursor(cursor)


def test_rules_for_the_committee_and_the_structure() -> None:
    flags = item_flags({"package_size": 24}, {"package_size": 48})
    assert flags and flags[0].field == "package_size"
    assert item_flags({"package_size": 24}, {"package_size": 48, "volume_cm3": 1, "weight_g": 1}) == []
    assert "V1" in children_problems("village", [("V1", "village")])["level"]
    assert children_problems("township", [("V1", "village")]) == {}
    assert selector_problem("atc:J01C") is None and selector_problem("atc:J1") is not None


def test_decode_detects_what_excel_writes() -> None:
    text = "编码,通用名\nYP1,阿莫西林\n"
    assert decode(b"\x84\x31\x95\x33" + text.encode("gb18030")) == (text, "GB18030 (BOM)")
    assert decode(text.encode("gbk"))[0] == text
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode())[0] == text
    assert decode(text.encode("utf-16"))[0] == text


def test_the_reader_refuses_what_it_cannot_read_and_says_what_to_do() -> None:
    with pytest.raises(UnreadableFile, match="unknown columns"):
        read_table("a.csv", "编码,通用名,颜色\nYP1,阿莫西林,红\n".encode())
    with pytest.raises(UnreadableFile, match="no header row"):
        read_table("a.csv", b"a,b\n1,2\n")
    with pytest.raises(UnreadableFile, match="split it into 2 files"):
        read_table("a.csv", ("编码,通用名\n" + "YP1,x\n" * 20001).encode())
    with pytest.raises(UnreadableFile, match="xlsx"):
        read_table("a.xls", b"\xd0\xcf\x11\xe0")
    with pytest.raises(UnreadableFile):
        read_table("a.xlsx", io.BytesIO(b"PK\x03\x04garbage").getvalue())


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LABELS = ["通用名", "规格", "单位", "包装数量", "剂型", "生产企业", "储存条件", "基药", "医保类别", "体积cm3"]
CELLS = st.text(st.sampled_from("阿莫西林胶囊参松养心片粒盒常温是否甲类0123456789.g"), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    columns=st.lists(st.sampled_from(LABELS), min_size=1, max_size=5, unique=True),
    data=st.data(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"]),
    separator=st.sampled_from([",", "\t"]),
)
def test_any_small_file_in_any_excel_encoding_reads_back(columns: list[str], data: st.DataObject, encoding: str, separator: str) -> None:
    values = [data.draw(CELLS) for _ in columns]
    text = separator.join(["编码", *columns]) + "\n" + separator.join(["YP1", *values]) + "\n"
    table = read_table("a.csv", text.encode(encoding))
    assert [(n, r["code"]) for n, r in table.rows] == [(2, "YP1")]
    assert [table.rows[0][1][c] for c in table.columns[1:]] == values
