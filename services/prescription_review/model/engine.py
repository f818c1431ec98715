"""The screening engine (审方引擎): one prescription in, findings and an outcome out. Pure Python.

`screen()` runs the legality and standardisation checks here (医疗机构处方审核规范 2018 第十三、
十四条) and the appropriateness checks of `checks_dose` and `checks_clinical` (第十五条). It reads
only precompiled dicts (CompiledKnowledge), so a 5-line prescription costs tens of microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.prescription_review.model import checks_clinical, checks_dose
from services.prescription_review.model.compiled import CompiledKnowledge, DrugProfile
from services.prescription_review.model.findings import RULES, Finding, SeverityPolicy, outcome_of
from services.prescription_review.model.prescription import VAGUE_WORDS, Prescription, RxItem
from services.prescription_review.model.registry import (
    CONTROLLED_PRIVILEGES,
    TIER_NAMES,
    TIER_RANK,
    PrescriberRecord,
    antibiotic_rank,
    registry_key,
)

LOCAL = ZoneInfo("Asia/Shanghai")
MAX_ITEMS = 5  # 处方管理办法 第六条(六)


class ScreeningRefused(ValueError):
    """The prescription cannot be screened at all (e.g. an unknown site); names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """Outcome (pass | review | block), the findings in order, and the knowledge version used."""

    outcome: str
    findings: tuple[Finding, ...]
    knowledge_version: str
    site_level: str


class Findings:
    """Collects findings with the severity the policy gives each rule at this site level."""

    __slots__ = ("items", "severity")

    def __init__(self, severity: dict[str, str]) -> None:
        self.items: list[Finding] = []
        self.severity = severity

    def add(self, code: str, item_index: int | None, message: str, basis: str | None = None) -> None:
        """Record one finding; basis defaults to the rule's regulation article."""
        self.items.append(Finding(code, self.severity[code], item_index, message, basis or RULES[code].basis))


def screen(
    rx: Prescription,
    ck: CompiledKnowledge,
    policy: SeverityPolicy,
    registry: Mapping[str, PrescriberRecord],
    now: datetime,
) -> ScreeningResult:
    """Screen one prescription. Raises ScreeningRefused('site_code', …) for a site the formulary lacks."""
    site = ck.formulary.sites.get(rx.site_code)
    if site is None:
        raise ScreeningRefused("site_code", f"unknown site {rx.site_code}")
    level, active = site
    if not active:
        raise ScreeningRefused("site_code", f"site {rx.site_code} is no longer active")
    out = Findings(policy.for_level(level))
    profiles: list[DrugProfile | None] = []
    allowed = ck.formulary.allowed_at(rx.site_code, level)
    drugs = 0
    for index, item in enumerate(rx.items):
        profile = ck.profiles.get(item.item_code)
        if profile is None or not profile.facts.active or not profile.facts.is_drug:
            why = "不在医共体药品目录" if profile is None else ("已停用" if not profile.facts.active else "不是药品")
            out.add("NOT_IN_FORMULARY", index, f"{item.item_code} {why}")
            profiles.append(None)
            continue
        drugs += 1
        profiles.append(profile)
        if allowed is not None and item.item_code not in allowed:
            out.add("NOT_IN_SITE_LIST", index, f"{profile.facts.generic_name}({item.item_code}) 不在本机构配备目录")
    _missing_fields(rx, out)
    _expired(rx, now, out)
    if drugs > MAX_ITEMS:
        out.add("TOO_MANY_ITEMS", None, f"一张处方开具了 {drugs} 种药品，超过 {MAX_ITEMS} 种")
    _privileges(rx, level, profiles, registry, out)
    checks_dose.check_items(rx, profiles, ck, out)
    checks_clinical.check_patient(rx, profiles, ck, out)
    findings = tuple(out.items)
    return ScreeningResult(outcome_of(findings), findings, ck.version, level)


def _vague(text: str | None) -> bool:
    return bool(text) and any(w in (text or "") for w in VAGUE_WORDS)


def _missing_fields(rx: Prescription, out: Findings) -> None:
    patient = rx.patient
    if patient.age is None:
        out.add("MISSING_FIELD", None, "缺少患者年龄 (patient.age_years / age_days)")
    elif patient.age < 1 and patient.weight_kg is None:
        out.add("MISSING_FIELD", None, "婴儿处方需注明体重 (patient.weight_kg)")
    if not patient.diagnoses:
        out.add("MISSING_FIELD", None, "缺少临床诊断 (patient.diagnoses)")
    for index, item in enumerate(rx.items):
        item_missing: list[str] = []
        if item.dose is None:
            if _vague(item.dose_text):
                out.add("MISSING_FIELD", index, f"剂量写作“{item.dose_text}”，含糊不清")
            else:
                item_missing.append("dose")
        elif not item.dose_unit:
            item_missing.append("dose_unit")
        if item.frequency is None:
            if _vague(item.frequency_text):
                out.add("MISSING_FIELD", index, f"频次写作“{item.frequency_text}”，含糊不清")
            else:
                item_missing.append("frequency")
        if not item.route:
            item_missing.append("route")
        if item.days is None and rx.type != "inpatient":
            item_missing.append("days")
        if item.quantity is None:
            item_missing.append("quantity")
        if item_missing:
            out.add("MISSING_FIELD", index, "缺少 " + ", ".join(item_missing))


def _expired(rx: Prescription, now: datetime, out: Findings) -> None:
    issued_day = rx.issued_at.astimezone(LOCAL).date()
    deadline = datetime(issued_day.year, issued_day.month, issued_day.day, tzinfo=LOCAL) + timedelta(days=rx.valid_days)
    if now >= deadline:
        out.add(
            "PRESCRIPTION_EXPIRED",
            None,
            f"处方开具于 {issued_day}，有效期 {rx.valid_days} 天，已于 {deadline.date()} 0 时失效",
        )


def _privileges(
    rx: Prescription,
    level: str,
    profiles: list[DrugProfile | None],
    registry: Mapping[str, PrescriberRecord],
    out: Findings,
) -> None:
    record = registry.get(registry_key(rx.prescriber.id))  # the registry is keyed by registry_key (engine_cache)
    if record is not None:
        privileges = record.privileges
        title = record.title
        if not record.active:
            out.add("PRESCRIBER_NOT_AUTHORIZED", None, f"医师 {rx.prescriber.id} 的处方权已停用（医务科名册）")
        elif record.sites and registry_key(rx.site_code) not in {registry_key(s) for s in record.sites}:
            out.add("PRESCRIBER_NOT_AUTHORIZED", None, f"医师 {rx.prescriber.id} 未在 {rx.site_code} 注册执业（医务科名册）")
    else:
        privileges = frozenset(rx.prescriber.privileges)
        title = rx.prescriber.title
    if title == "trainee":
        out.add("PRESCRIBER_NOT_AUTHORIZED", None, "试用期/进修医师须经上级医师签名后方有效", "处方管理办法(2007) 第九条")
    elif title == "assistant" and level == "county_hospital":
        out.add("PRESCRIBER_NOT_AUTHORIZED", None, "执业助理医师在县级医院开具处方须经执业医师签名")
    held = antibiotic_rank(privileges)
    controlled_ok = bool(CONTROLLED_PRIVILEGES & set(privileges))
    for index, profile in enumerate(profiles):
        if profile is None:
            continue
        need = TIER_RANK.get(profile.facts.antibiotic_tier, 0)
        if need and held < need:
            out.add(
                "ANTIBIOTIC_PRIVILEGE",
                index,
                f"{profile.facts.generic_name} 为{TIER_NAMES[need]}抗菌药物，医师仅有"
                f"{TIER_NAMES.get(held, '无')}{'处方权' if held else '抗菌药物处方权'}",
            )
        if profile.facts.controlled in ("narcotic", "psychotropic_1") and not controlled_ok:
            out.add("CONTROLLED_PRIVILEGE", index, f"{profile.facts.generic_name} 需麻醉药品和第一类精神药品处方权")


def units_summary(item: RxItem) -> str:
    """'5 mg tid × 7 d' for messages."""
    return f"{item.dose} {item.dose_unit} {item.frequency} × {item.days} d"
