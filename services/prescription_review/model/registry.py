"""The prescriber registry (医师处方权名册) kept by the medical affairs office, and privileges.

Privilege words (what the registry and the HIS send):
- `prescribe`: 处方权 at the registered sites (处方管理办法 第八条);
- `antibiotic_unrestricted` < `antibiotic_restricted` < `antibiotic_special`: the 抗菌药物 tiers
  (抗菌药物临床应用管理办法 2012 第二十四条); a higher tier includes the lower ones;
- `narcotic` (alias `psychotropic_1`): 麻醉药品和第一类精神药品处方权 (处方管理办法 第十一条).
Titles: `attending`… are free text; `assistant` (执业助理医师) prescribes alone only at township
and village sites (第八条); `trainee` (试用期/进修) never alone (第九条).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import site_key

PRIVILEGES = (
    "prescribe", "antibiotic_unrestricted", "antibiotic_restricted", "antibiotic_special", "narcotic", "psychotropic_1",
)  # fmt: skip
TIER_RANK = {"none": 0, "unrestricted": 1, "restricted": 2, "special": 3}
PRIVILEGE_TIER = {"antibiotic_unrestricted": 1, "antibiotic_restricted": 2, "antibiotic_special": 3}
CONTROLLED_PRIVILEGES = frozenset({"narcotic", "psychotropic_1"})
TIER_NAMES = {1: "非限制使用级", 2: "限制使用级", 3: "特殊使用级"}


def registry_key(text: str) -> str:
    """A doctor id or site code as the registry and screening compare them: codes, by shared.auth.site_key's
    rule (NFKC, blanks and invisible marks removed, upper-case; the API stores them in this form
    already). `d952`, `D952` and full-width `Ｄ９５２` are one doctor; `cw-h01` and `CW-H01` one site."""
    return site_key(text)


@dataclass(frozen=True, slots=True)
class PrescriberRecord:
    """One doctor in the registry: the sites they may prescribe at, title and privileges."""

    id: str
    name: str
    sites: tuple[str, ...]
    title: str | None
    privileges: frozenset[str]
    active: bool = True


def antibiotic_rank(privileges: frozenset[str] | set[str] | tuple[str, ...]) -> int:
    """The highest antibiotic tier these privileges allow (0 none … 3 special)."""
    best = 0
    for p in privileges:
        rank = PRIVILEGE_TIER.get(p, 0)
        if rank > best:
            best = rank
    return best
