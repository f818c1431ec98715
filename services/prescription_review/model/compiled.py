"""The knowledge compiled against the formulary: one DrugProfile per catalogue item, and the
interaction index. Built once per (knowledge version, catalogue version); screening only reads it.

Every drug reference in the knowledge (generic name, class:NAME, atc:PREFIX) is resolved here, so
the engine looks things up by item code and plain dict keys, with no parsing per call.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from services.prescription_review.model.formulary_view import FormularyView, ItemFacts
from services.prescription_review.model.knowledge import (
    AgeRule,
    AllergyClass,
    DiagnosisRule,
    DoseRange,
    Interaction,
    KnowledgeBase,
    PopulationRule,
    RouteRule,
)

# ATC groups where two members together are usual, not duplicate therapy: infusions and
# electrolytes (B05, A12), vitamins (A11), topical, eye and ear preparations (D, S), vaccines.
NO_DUPLICATE_ATC = ("B05", "A11", "A12", "D", "S", "J07", "V")
# Long-term prescriptions exclude antimicrobials (长期处方管理规范 2021): systemic anti-infectives.
ANTIMICROBIAL_ATC = ("J01", "J02", "J04", "J05", "P01AB")


@dataclass(frozen=True, slots=True)
class DrugProfile:
    """All the knowledge that applies to one item, resolved."""

    facts: ItemFacts
    keys: frozenset[str]
    duplicate_classes: frozenset[str]
    doses: dict[str, tuple[DoseRange, ...]]  # route group -> ranges, narrowest age band first
    contraindications: dict[str, DiagnosisRule]  # ICD prefix -> rule
    indications: tuple[DiagnosisRule, ...]
    pregnancy: PopulationRule | None
    lactation: PopulationRule | None
    ages: tuple[AgeRule, ...]
    allergy_classes: frozenset[str]
    forbidden_routes: dict[str, RouteRule]
    antimicrobial: bool


@dataclass(frozen=True)
class CompiledKnowledge:
    """What the engine reads: profiles by item code, interactions by key pair, allergy words."""

    version: str
    catalogue_version: int
    formulary: FormularyView
    profiles: dict[str, DrugProfile]
    interactions: dict[str, dict[str, Interaction]]
    allergy_words: dict[str, frozenset[str]]  # normalised word -> allergy class names
    allergy_classes: dict[str, AllergyClass]
    chronic_prefixes: frozenset[str]

    @property
    def label(self) -> str:
        """The knowledge version recorded with every screening."""
        return self.version


def icd_prefixes(code: str) -> tuple[str, ...]:
    """Every prefix of an ICD-10 code, 'I10.x05' -> ('I', 'I1', 'I10', 'I10.', 'I10.X', …)."""
    c = code.strip().upper()
    return tuple(c[:n] for n in range(1, len(c) + 1))


def normalise_allergy(word: str) -> str:
    """'青霉素类过敏 ' -> '青霉素'; lower-cased, without 过敏/类/药物 suffixes."""
    w = word.strip().lower()
    for suffix in ("过敏史", "过敏", "药物", "类"):
        if w.endswith(suffix) and len(w) > len(suffix):
            w = w[: -len(suffix)]
    return w


def _item_keys(item: ItemFacts, atc_prefixes: set[str], class_members: dict[str, list[str]]) -> set[str]:
    keys = {item.generic_name}
    for prefix in atc_prefixes:
        if item.atc and item.atc.startswith(prefix):
            keys.add("atc:" + prefix)
    for name, members in class_members.items():
        for m in members:
            if (m.startswith("atc:") and item.atc and item.atc.startswith(m[4:])) or m == item.generic_name:
                keys.add("class:" + name)
                break
    return keys


def _age_width(r: DoseRange) -> float:
    return (r.age_max if r.age_max is not None else 150.0) - (r.age_min if r.age_min is not None else 0.0)


def compile_knowledge(kb: KnowledgeBase, formulary: FormularyView) -> CompiledKnowledge:
    """Resolve every row against the catalogue's items and build the lookup tables."""
    refs = kb.drug_refs() | {c.member for c in kb.classes}
    atc_prefixes = {r[4:] for r in refs if r.startswith("atc:")}
    class_members: dict[str, list[str]] = defaultdict(list)
    duplicate_classes: set[str] = set()
    for c in kb.classes:
        class_members[c.name].append(c.member)
        if c.duplicate:
            duplicate_classes.add(c.name)
    by_key: dict[str, dict[str, list[object]]] = defaultdict(lambda: defaultdict(list))
    for table, table_rows in (
        ("doses", kb.doses), ("contra", kb.contraindications), ("ind", kb.indications),
        ("preg", kb.pregnancy), ("lact", kb.lactation), ("age", kb.ages), ("route", kb.routes),
    ):  # fmt: skip
        for row in table_rows:
            by_key[table][row.drug].append(row)  # type: ignore[attr-defined]
    allergy_members: dict[str, set[str]] = defaultdict(set)
    for a in kb.allergies:
        for m in a.members:
            allergy_members[m].add(a.name)

    profiles: dict[str, DrugProfile] = {}
    for code, item in formulary.items.items():
        keys = _item_keys(item, atc_prefixes, class_members)

        def rows(table: str, keys: set[str] = keys) -> list[object]:
            found: list[object] = []
            for k in keys:
                found.extend(by_key[table].get(k, ()))
            return found

        doses: dict[str, list[DoseRange]] = defaultdict(list)
        for r in rows("doses"):
            assert isinstance(r, DoseRange)
            doses[r.route_group].append(r)
        contra: dict[str, DiagnosisRule] = {}
        for r in rows("contra"):
            assert isinstance(r, DiagnosisRule)
            for p in r.icd_prefixes:
                contra.setdefault(p.upper(), r)
        dup = {k[6:] for k in keys if k.startswith("class:") and k[6:] in duplicate_classes}
        if item.atc and len(item.atc) >= 5 and not item.atc.startswith(NO_DUPLICATE_ATC):
            dup.add("atc4:" + item.atc[:5])
        preg = rows("preg")
        lact = rows("lact")
        allergy = set()
        for k in keys:
            allergy |= allergy_members.get(k, set())
        profiles[code] = DrugProfile(
            facts=item,
            keys=frozenset(keys),
            duplicate_classes=frozenset(dup),
            doses={g: tuple(sorted(v, key=_age_width)) for g, v in doses.items()},
            contraindications=contra,
            indications=tuple(r for r in rows("ind") if isinstance(r, DiagnosisRule)),
            pregnancy=next((r for r in preg if isinstance(r, PopulationRule)), None),
            lactation=next((r for r in lact if isinstance(r, PopulationRule)), None),
            ages=tuple(r for r in rows("age") if isinstance(r, AgeRule)),
            allergy_classes=frozenset(allergy),
            forbidden_routes={rt: r for r in rows("route") if isinstance(r, RouteRule) for rt in r.forbidden},
            antimicrobial=bool(item.atc) and item.atc.startswith(ANTIMICROBIAL_ATC),
        )

    interactions: dict[str, dict[str, Interaction]] = defaultdict(dict)
    rank = {"contraindicated": 3, "major": 2, "moderate": 1}
    for i in kb.interactions:
        for x, y in ((i.a, i.b), (i.b, i.a)):
            current = interactions[x].get(y)
            if current is None or rank[i.level] > rank[current.level]:
                interactions[x][y] = i
    words: dict[str, set[str]] = defaultdict(set)
    for a in kb.allergies:
        for w in (a.name, *a.aliases):
            words[normalise_allergy(w)].add(a.name)
    return CompiledKnowledge(
        version=kb.version,
        catalogue_version=formulary.catalogue_version,
        formulary=formulary,
        profiles=profiles,
        interactions=dict(interactions),
        allergy_words={w: frozenset(v) for w, v in words.items()},
        allergy_classes={a.name: a for a in kb.allergies},
        chronic_prefixes=frozenset(c.icd_prefix.upper() for c in kb.chronic),
    )
