"""Code formats the formulary checks: 统一社会信用代码, 医保编码, ATC."""

from __future__ import annotations

import re

# GB 32100-2015: the 18th character of a unified social credit code is a check character over
# the first 17, drawn from an alphabet without I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

ATC_PATTERN = re.compile(r"^[A-Z]\d{2}[A-Z]{2}\d{2}$")
# The NHSA 医保药品分类与代码 for drugs: X (西药) or Z (中成药) and 22 more characters. The
# pattern is configurable (FORMULARY_NHSA_DRUG_PATTERN) because provinces extend the scheme.
DEFAULT_NHSA_DRUG_PATTERN = r"^[XZ][A-Z0-9]{22}$"
DEFAULT_NHSA_CONSUMABLE_PATTERN = r"^C\d{2}[A-Z0-9]{17}$"


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_valid(code: str) -> bool:
    """True for a well-formed 统一社会信用代码 with a correct check character."""
    code = code.strip().upper()
    if len(code) != 18 or not USCC_PATTERN.match(code):
        return False
    return uscc_check_char(code[:17]) == code[17]
