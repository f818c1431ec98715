"""Finding codes, their default severity and regulatory basis, and the outcome they lead to.

Codes are stable names (issue 11): never rename one. Severities are `info < warning < major <
critical`; the pharmacy manager may change a rule's severity per site level (SeverityPolicy).
Outcome (医疗机构处方审核规范 2018 第十五、十六条): any critical finding blocks the prescription
(returned to the prescriber), any major or warning finding sends it to a pharmacist, else it passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SEVERITIES = ("info", "warning", "major", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
OUTCOMES = ("pass", "review", "block")

RX_RULES = "处方管理办法(2007)"
REVIEW_RULES = "医疗机构处方审核规范(2018)"
LONG_RX = "长期处方管理规范(试行)(2021)"
ABX_RULES = "抗菌药物临床应用管理办法(2012)"


@dataclass(frozen=True, slots=True)
class Rule:
    """A screening rule: its stable code, group, default severity and where the rule comes from."""

    code: str
    group: str  # legality | standardisation | appropriateness
    severity: str
    basis: str
    title: str


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule("PRESCRIBER_NOT_AUTHORIZED", "legality", "critical", f"{RX_RULES} 第八条", "医师无处方权"),
        Rule("ANTIBIOTIC_PRIVILEGE", "legality", "critical", f"{ABX_RULES} 第二十四条", "抗菌药物分级处方权不符"),
        Rule("CONTROLLED_PRIVILEGE", "legality", "critical", f"{RX_RULES} 第十一条", "无麻醉药品和第一类精神药品处方权"),
        Rule("MISSING_FIELD", "standardisation", "major", f"{RX_RULES} 第六条", "处方项目缺项或用法含糊"),
        Rule("TOO_MANY_ITEMS", "standardisation", "warning", f"{RX_RULES} 第六条(六)", "每张处方超过5种药品"),
        Rule("PRESCRIPTION_EXPIRED", "standardisation", "critical", f"{RX_RULES} 第十八条", "处方已过有效期"),
        Rule("NOT_IN_FORMULARY", "standardisation", "critical", f"{RX_RULES} 第十五条", "不在医共体药品目录"),
        Rule("NOT_IN_SITE_LIST", "standardisation", "major", f"{RX_RULES} 第十五条", "不在本机构配备目录"),
        Rule("QUANTITY_INCONSISTENT", "standardisation", "warning", f"{REVIEW_RULES} 第十五条(三)", "数量与用法用量不符"),
        Rule("DAYS_SUPPLY_EXCEEDED", "appropriateness", "major", f"{RX_RULES} 第十九条", "处方用量超过规定天数"),
        Rule("CONTROLLED_LIMIT", "appropriateness", "critical", f"{RX_RULES} 第二十三条", "麻醉/精神药品超限量"),
        Rule("DOSE_ABOVE_MAX", "appropriateness", "major", f"{RX_RULES} 第六条(七)", "剂量超过上限"),
        Rule("DOSE_UNIT_MISMATCH", "standardisation", "warning", f"{RX_RULES} 第七条", "剂量单位与药品规格不符"),
        Rule("DOSE_BELOW_MIN", "appropriateness", "warning", f"{REVIEW_RULES} 第十五条(三)", "剂量低于下限"),
        Rule("ROUTE_INAPPROPRIATE", "appropriateness", "major", f"{REVIEW_RULES} 第十五条(四)", "给药途径不适宜"),
        Rule("DUPLICATE_THERAPY", "appropriateness", "warning", f"{REVIEW_RULES} 第十五条(五)", "重复用药"),
        Rule("DDI_CONTRAINDICATED", "appropriateness", "critical", f"{REVIEW_RULES} 第十五条(五)", "禁忌的药物相互作用"),
        Rule("DDI_MAJOR", "appropriateness", "major", f"{REVIEW_RULES} 第十五条(五)", "严重的药物相互作用"),
        Rule("DDI_MODERATE", "appropriateness", "info", f"{REVIEW_RULES} 第十五条(五)", "中度药物相互作用"),
        Rule("ALLERGY", "appropriateness", "critical", f"{REVIEW_RULES} 第十五条(七)", "过敏史禁忌"),
        Rule("ALLERGY_CROSS_SENSITIVITY", "appropriateness", "warning", f"{REVIEW_RULES} 第十五条(七)", "可能交叉过敏"),
        Rule("CONTRAINDICATED_DIAGNOSIS", "appropriateness", "major", f"{REVIEW_RULES} 第十五条(七)", "诊断/疾病禁忌"),
        Rule("NO_INDICATION", "appropriateness", "warning", f"{REVIEW_RULES} 第十五条(一)", "用药与诊断不符"),
        Rule("PREGNANCY", "appropriateness", "major", f"{REVIEW_RULES} 第十五条(七)", "孕妇禁忌"),
        Rule("LACTATION", "appropriateness", "warning", f"{REVIEW_RULES} 第十五条(七)", "哺乳期禁忌"),
        Rule("AGE_INAPPROPRIATE", "appropriateness", "major", f"{REVIEW_RULES} 第十五条(七)", "年龄禁忌"),
    )
}
CODES = tuple(RULES)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem the engine found. `item_index` is the 0-based line, None for the whole prescription.

    `basis` is the regulation article (or label / knowledge source) the finding rests on.
    """

    code: str
    severity: str
    item_index: int | None
    message: str
    basis: str

    def as_dict(self) -> dict[str, object]:
        """The documented answer shape."""
        return {
            "code": self.code,
            "severity": self.severity,
            "item_index": self.item_index,
            "message": self.message,
            "basis": self.basis,
        }


def outcome_of(findings: Iterable[Finding]) -> str:
    """block if any critical, review if any major or warning, else pass."""
    worst = -1
    for f in findings:
        rank = SEVERITY_RANK[f.severity]
        if rank > worst:
            worst = rank
    if worst == SEVERITY_RANK["critical"]:
        return "block"
    if worst >= SEVERITY_RANK["warning"]:
        return "review"
    return "pass"


class SeverityPolicy:
    """Per rule, per site level severities: the manager's overrides over the defaults.

    `overrides` maps (site_level or "*", code) -> severity; a level-specific entry beats "*".
    Resolved once per level into a plain dict, so a lookup during screening is one dict access.
    """

    def __init__(self, overrides: Mapping[tuple[str, str], str] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._by_level: dict[str, dict[str, str]] = {}

    def for_level(self, level: str) -> dict[str, str]:
        """code -> severity at this site level."""
        table = self._by_level.get(level)
        if table is None:
            table = {code: rule.severity for code, rule in RULES.items()}
            for (lvl, code), sev in self.overrides.items():
                if lvl == "*":
                    table[code] = sev
            for (lvl, code), sev in self.overrides.items():
                if lvl == level:
                    table[code] = sev
            self._by_level[level] = table
        return table
