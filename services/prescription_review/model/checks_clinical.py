"""Patient-level appropriateness: interactions, duplicates, allergy, diagnosis, pregnancy,
lactation and age (医疗机构处方审核规范 2018 第十五条(一)(五)(七)). Each finding's basis is the
knowledge row's source (label, guideline, ONC list) where one applies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.prescription_review.model.compiled import (
    CompiledKnowledge,
    DrugProfile,
    icd_prefixes,
    normalise_allergy,
)
from services.prescription_review.model.knowledge import Interaction
from services.prescription_review.model.prescription import Prescription

if TYPE_CHECKING:
    from services.prescription_review.model.engine import Findings

DDI_CODES = {"contraindicated": "DDI_CONTRAINDICATED", "major": "DDI_MAJOR", "moderate": "DDI_MODERATE"}
DDI_RANK = {"contraindicated": 3, "major": 2, "moderate": 1}
LEVEL_ZH = {"contraindicated": "禁忌", "major": "严重", "moderate": "中度"}


def check_patient(rx: Prescription, profiles: list[DrugProfile | None], ck: CompiledKnowledge, out: Findings) -> None:
    """All patient- and combination-level checks."""
    _pairs(profiles, ck, out)
    _allergy(rx, profiles, ck, out)
    patient = rx.patient
    diag: set[str] = set()
    for d in patient.diagnoses:
        diag.update(icd_prefixes(d.code))
    names = {d.code.upper(): d.name for d in patient.diagnoses}
    age = patient.age
    for index, p in enumerate(profiles):
        if p is None:
            continue
        name = p.facts.generic_name
        if p.contraindications and diag:
            seen: set[int] = set()
            for prefix in diag:
                rule = p.contraindications.get(prefix)
                if rule is not None and id(rule) not in seen:
                    seen.add(id(rule))
                    which = next((f"{c} {n}".strip() for c, n in names.items() if c.startswith(prefix)), prefix)
                    out.add("CONTRAINDICATED_DIAGNOSIS", index, f"{name} 禁用于 {which}: {rule.message}", rule.source)
        if diag:
            for rule in p.indications:
                if not any(x.upper() in diag for x in rule.icd_prefixes):
                    out.add("NO_INDICATION", index, f"{name}: {rule.message}", rule.source)
        if patient.pregnant and p.pregnancy is not None and p.facts.systemic:
            out.add("PREGNANCY", index, f"{name} 孕妇禁用/避免: {p.pregnancy.message}", p.pregnancy.source)
        if patient.lactating and p.lactation is not None and p.facts.systemic:
            out.add("LACTATION", index, f"{name} 哺乳期禁用/暂停哺乳: {p.lactation.message}", p.lactation.source)
        if age is not None:
            for a in p.ages:
                if (a.age_min is not None and age < a.age_min) or (a.age_max is not None and age >= a.age_max):
                    out.add("AGE_INAPPROPRIATE", index, f"{name} 不宜用于 {age:.3g} 岁患者: {a.message}", a.source)


def _pairs(profiles: list[DrugProfile | None], ck: CompiledKnowledge, out: Findings) -> None:
    index = ck.interactions
    n = len(profiles)
    for j in range(1, n):
        pj = profiles[j]
        if pj is None:
            continue
        for i in range(j):
            pi = profiles[i]
            if pi is None:
                continue
            if not (pi.facts.systemic and pj.facts.systemic):
                continue  # an eye ointment and a tablet: no duplicate, no systemic interaction
            if pi.facts.generic_name == pj.facts.generic_name:
                out.add("DUPLICATE_THERAPY", j, f"{pj.facts.generic_name} 与第 {i + 1} 行为同一通用名，重复用药")
                continue
            shared = pi.duplicate_classes & pj.duplicate_classes
            if shared:
                cls = sorted(shared)[0].replace("atc4:", "ATC ")
                out.add("DUPLICATE_THERAPY", j, f"{pj.facts.generic_name} 与第 {i + 1} 行 {pi.facts.generic_name} 同属 {cls}，重复用药")
            best: Interaction | None = None
            for ka in pi.keys:
                partners = index.get(ka)
                if partners is None:
                    continue
                for kb in pj.keys:
                    hit = partners.get(kb)
                    if hit is not None and (best is None or DDI_RANK[hit.level] > DDI_RANK[best.level]):
                        best = hit
            if best is not None:
                out.add(
                    DDI_CODES[best.level],
                    j,
                    f"{pj.facts.generic_name} 与第 {i + 1} 行 {pi.facts.generic_name} {LEVEL_ZH[best.level]}相互作用: {best.message}",
                    best.source,
                )


def _allergy(rx: Prescription, profiles: list[DrugProfile | None], ck: CompiledKnowledge, out: Findings) -> None:
    if not rx.patient.allergies:
        return
    words = [normalise_allergy(a) for a in rx.patient.allergies if a.strip()]
    classes: set[str] = set()
    for w in words:
        found = ck.allergy_words.get(w)
        if found is None:  # free text such as 青霉素皮试阳性: look for a known word inside it
            found = frozenset(c for k, cs in ck.allergy_words.items() if len(k) >= 2 and k in w for c in cs)
        classes |= found
    cross: dict[str, str] = {}
    for c in classes:
        for x in ck.allergy_classes[c].cross:
            cross.setdefault(x, c)
    for index, p in enumerate(profiles):
        if p is None:
            continue
        name = p.facts.generic_name
        direct = next((w for w in words if len(w) >= 2 and (w in name or name in w)), None)
        hit = p.allergy_classes & classes
        if direct is not None or hit:
            why = f"患者对“{direct}”过敏" if direct is not None else f"患者对{sorted(hit)[0]}过敏"
            source = ck.allergy_classes[sorted(hit)[0]].source if hit else None
            out.add("ALLERGY", index, f"{name}: {why}", source)
            continue
        crossed = next((x for x in p.allergy_classes if x in cross), None)
        if crossed is not None:
            src = ck.allergy_classes[cross[crossed]]
            out.add("ALLERGY_CROSS_SENSITIVITY", index, f"{name}({crossed}) 与患者过敏的{cross[crossed]}可能交叉过敏", src.source)
