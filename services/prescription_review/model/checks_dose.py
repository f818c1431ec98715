"""Per-line appropriateness: days' supply, controlled-drug limits, dose ranges, route, quantity.

Sources: 处方管理办法(2007) 第十九条 (7 days outpatient, 3 days emergency), 第二十三条 (narcotic and
first-class psychotropic: injection one dose, controlled-release 7 days, other forms 3 days;
second-class psychotropic 7 days), 第二十四条 (cancer / chronic pain: 3, 15 and 7 days), 第二十六条
(inpatients: one day); 长期处方管理规范(试行)(2021) (long-term: 4 weeks, up to 12 weeks for stable
chronic disease; no narcotic, psychotropic, toxic or antimicrobial drugs).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from services.prescription_review.model.compiled import CompiledKnowledge, DrugProfile, icd_prefixes
from services.prescription_review.model.formulary_view import VOLUME, unit_factor
from services.prescription_review.model.knowledge import DoseRange
from services.prescription_review.model.prescription import (
    DOSES_PER_DAY,
    Prescription,
    RxItem,
    administrations,
)

if TYPE_CHECKING:
    from services.prescription_review.model.engine import Findings

INJECTION_ROUTES = frozenset({"iv", "ivgtt", "im", "sc", "id", "intrathecal"})
ORAL_ROUTES = frozenset({"oral", "sublingual"})
OUTPATIENT_DAYS, EMERGENCY_DAYS, LONG_TERM_DAYS, LONG_TERM_MAX = 7, 3, 28, 84
LONG_RX = "长期处方管理规范(试行)(2021)"
PAIN_PREFIXES = ("C", "R52", "G89")  # cancer, chronic pain: 处方管理办法 第二十四条


def amount_per_dose(item: RxItem, p: DrugProfile) -> tuple[float | None, str | None, float | None] | None:
    """(amount in the canonical unit or None, its dimension, dispensing units per dose or None);
    None when the dose or its unit is missing or the unit is unknown."""
    if item.dose is None or not item.dose_unit:
        return None
    f = p.facts
    if item.dose_unit == f.unit:
        if f.per_unit is None or f.dim is None:
            return None, None, item.dose  # a compound tablet: no amount, but the count is known
        return item.dose * f.per_unit, f.dim, item.dose
    factor = unit_factor(item.dose_unit)
    if factor is None:
        return None
    amount, dim = item.dose * factor[0], factor[1]
    if dim == VOLUME and f.dim not in (None, VOLUME) and f.volume_ml and f.per_unit:
        return amount * f.per_unit / f.volume_ml, f.dim, amount / f.volume_ml
    units = amount / f.per_unit if f.per_unit and f.dim == dim else None
    return amount, dim, units


def check_items(rx: Prescription, profiles: list[DrugProfile | None], ck: CompiledKnowledge, out: Findings) -> None:
    """Days' supply, controlled limits, dose range, route and quantity of every line."""
    age = rx.patient.age
    chronic = _has_prefix(rx, ck.chronic_prefixes)
    pain = any(d.code.upper().startswith(PAIN_PREFIXES) for d in rx.patient.diagnoses)
    for index, p in enumerate(profiles):
        if p is None:
            continue
        item = rx.items[index]
        _days(rx, item, index, p, chronic, out)
        _controlled(rx, item, index, p, pain, out)
        dose = amount_per_dose(item, p)
        if dose is None or (dose[1] is not None and p.facts.dim is not None and dose[1] != p.facts.dim):
            _unit_mismatch(item, index, p, out)
        if dose is not None and dose[0] is not None and dose[1] is not None:
            _dose(item, index, p, dose[0], dose[1], age, rx.patient.weight_kg, out)
        _route(item, index, p, out)
        if dose is not None and dose[2] is not None:
            _quantity(item, index, p, dose[2], out)


def _unit_mismatch(item: RxItem, index: int, p: DrugProfile, out: Findings) -> None:
    """A dose unit that neither is the dispensing unit nor converts to the strength's dimension
    (5 mL of a tablet, 0.5 g of a product labelled in 万单位, 片 for a capsule): the dose cannot be
    checked and the line is ambiguous (处方管理办法 第七条: 剂量使用法定剂量单位)."""
    if item.dose is None or not item.dose_unit:
        return  # a missing dose or unit is MISSING_FIELD
    f = p.facts
    label = f"{f.per_unit:g}{f.dim}/{f.unit}" if f.per_unit is not None and f.dim else f.unit
    out.add("DOSE_UNIT_MISMATCH", index, f"{f.generic_name} 剂量单位“{item.dose_unit}”与规格 {label} 不符，无法核对剂量")


def _has_prefix(rx: Prescription, prefixes: frozenset[str]) -> bool:
    return any(p in prefixes for d in rx.patient.diagnoses for p in icd_prefixes(d.code))


def _days(rx: Prescription, item: RxItem, index: int, p: DrugProfile, chronic: bool, out: Findings) -> None:
    days, name = item.days, p.facts.generic_name
    if rx.type == "long_term":
        if p.facts.controlled != "none" or p.antimicrobial:
            why = "麻醉/精神/毒性药品" if p.facts.controlled != "none" else "抗菌药物"
            out.add("DAYS_SUPPLY_EXCEEDED", index, f"{name} 属{why}，不得开具长期处方", LONG_RX)
        elif days is not None and days > LONG_TERM_MAX:
            out.add("DAYS_SUPPLY_EXCEEDED", index, f"{name} 长期处方 {days} 天，超过 12 周", LONG_RX)
        elif days is not None and days > LONG_TERM_DAYS and not chronic:
            out.add("DAYS_SUPPLY_EXCEEDED", index, f"{name} 长期处方 {days} 天超过 4 周，但无病情稳定的慢性病诊断", LONG_RX)
        return
    if days is None:
        return
    if rx.type == "outpatient" and days > OUTPATIENT_DAYS:
        out.add("DAYS_SUPPLY_EXCEEDED", index, f"{name} 门诊处方 {days} 天，超过 7 日用量")
    elif rx.type == "emergency" and days > EMERGENCY_DAYS:
        out.add("DAYS_SUPPLY_EXCEEDED", index, f"{name} 急诊处方 {days} 天，超过 3 日用量")


def _controlled(rx: Prescription, item: RxItem, index: int, p: DrugProfile, pain: bool, out: Findings) -> None:
    kind = p.facts.controlled
    if kind not in ("narcotic", "psychotropic_1", "psychotropic_2") or rx.type == "long_term":
        return
    name = p.facts.generic_name
    days = item.days or 0
    if rx.type == "inpatient":
        if kind != "psychotropic_2" and days > 1:
            out.add("CONTROLLED_LIMIT", index, f"{name}: 住院患者每张处方为 1 日常用量，开了 {days} 天", "处方管理办法(2007) 第二十六条")
        return
    if kind == "psychotropic_2":
        if days > 7:
            out.add("CONTROLLED_LIMIT", index, f"{name}(第二类精神药品) 每张处方不超过 7 日常用量，开了 {days} 天")
        return
    basis = "处方管理办法(2007) 第二十四条" if pain else None
    if p.facts.injection:
        limit_days = 3 if pain else None
        admins = administrations(item.frequency, days) if item.frequency and days else None
        if limit_days is None and admins is not None and admins > 1:
            out.add("CONTROLLED_LIMIT", index, f"{name} 注射剂每张处方为一次常用量，开了 {admins:g} 次", basis)
        elif limit_days is not None and days > limit_days:
            out.add("CONTROLLED_LIMIT", index, f"{name} 注射剂(癌痛/慢性疼痛)不超过 3 日常用量，开了 {days} 天", basis)
        return
    limit = (15 if pain else 7) if p.facts.controlled_release else (7 if pain else 3)
    if days > limit:
        form = "控缓释制剂" if p.facts.controlled_release else "其他剂型"
        out.add("CONTROLLED_LIMIT", index, f"{name} {form}每张处方不超过 {limit} 日常用量，开了 {days} 天", basis)


def _pick_range(p: DrugProfile, route: str | None, age: float | None, weight: float | None, dim: str) -> tuple[DoseRange, float] | None:
    group = "injection" if route in INJECTION_ROUTES else "oral" if route in ORAL_ROUTES else None
    candidates = (p.doses.get(group, ()) if group else ()) + p.doses.get("any", ())
    a = age if age is not None else 30.0
    for r in candidates:
        if r.unit != dim:
            continue
        if (r.age_min is not None and a < r.age_min) or (r.age_max is not None and a >= r.age_max):
            continue
        if r.basis == "per_kg":
            if weight is None:
                continue
            return r, weight
        return r, 1.0
    return None


def _dose(item: RxItem, index: int, p: DrugProfile, amount: float, dim: str, age: float | None,
          weight: float | None, out: Findings) -> None:
    picked = _pick_range(p, item.route, age, weight, dim)
    if picked is None:
        if weight is None and _pick_range(p, item.route, age, 1.0, dim) is not None:
            # The band for this age is per kg (children): without a weight the dose cannot be checked.
            out.add("MISSING_FIELD", index, f"{p.facts.generic_name} 儿童剂量按体重计算，需注明体重 (patient.weight_kg)")
        return
    r, scale = picked
    per_day = DOSES_PER_DAY.get(item.frequency or "")
    daily = amount * max(1.0, per_day) if per_day is not None else None
    name, band = p.facts.generic_name, _band(r)
    eps = 1e-6
    if r.single_max is not None and amount > r.single_max * scale + eps:
        out.add("DOSE_ABOVE_MAX", index, f"{name} 单次 {amount:g} {dim} 超过{band}上限 {r.single_max * scale:g} {dim}", r.source)
    elif daily is not None and r.daily_max is not None and daily > r.daily_max * scale + eps:
        out.add("DOSE_ABOVE_MAX", index, f"{name} 日剂量 {daily:g} {dim} 超过{band}上限 {r.daily_max * scale:g} {dim}", r.source)
    if r.single_min is not None and amount < r.single_min * scale - eps:
        out.add("DOSE_BELOW_MIN", index, f"{name} 单次 {amount:g} {dim} 低于{band}下限 {r.single_min * scale:g} {dim}", r.source)
    elif daily is not None and r.daily_min is not None and daily < r.daily_min * scale - eps:
        out.add("DOSE_BELOW_MIN", index, f"{name} 日剂量 {daily:g} {dim} 低于{band}下限 {r.daily_min * scale:g} {dim}", r.source)


def _band(r: DoseRange) -> str:
    who = "成人" if (r.age_min or 0) >= 18 and r.age_max is None else (
        "老年人" if (r.age_min or 0) >= 60 else "儿童" if (r.age_max or 150) <= 18 else "")
    return who + ("(按体重)" if r.basis == "per_kg" else "")


def _route(item: RxItem, index: int, p: DrugProfile, out: Findings) -> None:
    route = item.route
    if not route:
        return
    rule = p.forbidden_routes.get(route)
    if rule is not None:
        out.add("ROUTE_INAPPROPRIATE", index, f"{p.facts.generic_name} 不得 {route} 给药: {rule.message}", rule.source)
    elif p.facts.routes and route not in p.facts.routes:
        allowed = "/".join(sorted(p.facts.routes))
        out.add("ROUTE_INAPPROPRIATE", index, f"{p.facts.generic_name}{p.facts.dosage_form} 不能 {route} 给药 (可: {allowed})")


def _quantity(item: RxItem, index: int, p: DrugProfile, units_per_dose: float, out: Findings) -> None:
    f = p.facts
    if not (f.countable or (f.solid_oral and item.dose_unit == f.unit)) or item.quantity is None or not item.frequency \
            or not item.days:
        return
    admins = administrations(item.frequency, item.days)
    if admins is None:
        return
    if f.injection and f.dim != "IU":
        required = math.ceil(units_per_dose - 1e-9) * admins  # an opened ampoule is not kept
    else:
        required = units_per_dose * admins
    need = math.ceil(required - 1e-9)
    # Whole packages may be handed out when the need spans several; a package larger than the
    # need is split (拆零), so then the quantity must be the need itself.
    most = math.ceil(need / f.package_size) * f.package_size if 1 < f.package_size <= need else need
    if item.quantity < need:
        out.add("QUANTITY_INCONSISTENT", index, f"{f.generic_name} 数量 {item.quantity:g}{f.unit} 不足 {need}{f.unit}（按用法用量计算）")
    elif item.quantity > most:
        out.add("QUANTITY_INCONSISTENT", index, f"{f.generic_name} 数量 {item.quantity:g}{f.unit} 超过用法用量所需 {need}{f.unit}（整包装上限 {most}）")
