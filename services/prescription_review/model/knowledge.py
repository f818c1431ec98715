"""The knowledge base (审方知识库): rows of clinical facts, each naming its source.

A drug reference (`drug`) in any row is one of:
- a generic name exactly as the catalogue spells it (通用名, e.g. 华法林);
- `class:<NAME>`, a class defined by DrugClass rows (e.g. class:NSAID);
- `atc:<PREFIX>`, every item whose ATC code starts with PREFIX (e.g. atc:J01).
ICD-10 codes are matched by prefix (`I50` matches I50.900). Amounts are in mg, IU or ml as the
row's `unit` says; ages in years; a band is [age_min, age_max).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DDI_LEVELS = ("contraindicated", "major", "moderate")
ROUTE_GROUPS = ("oral", "injection", "any")
DOSE_BASES = ("per_dose", "per_kg")
DOSE_UNITS = ("mg", "IU", "ml")


@dataclass(frozen=True, slots=True)
class DrugClass:
    """A named class: all items with this ATC prefix, or this generic name. `duplicate` classes
    flag two members on one prescription as duplicate therapy."""

    name: str
    member: str  # atc:PREFIX or a generic name
    duplicate: bool
    source: str


@dataclass(frozen=True, slots=True)
class Interaction:
    """A drug–drug interaction between two drug references, at one level."""

    a: str
    b: str
    level: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class DoseRange:
    """Single and daily dose limits for one drug, route group and age band (None = unbounded)."""

    drug: str
    route_group: str
    age_min: float | None
    age_max: float | None
    basis: str
    unit: str
    single_min: float | None
    single_max: float | None
    daily_min: float | None
    daily_max: float | None
    source: str


@dataclass(frozen=True, slots=True)
class DiagnosisRule:
    """A drug and ICD-10 prefixes: a contraindication (CONTRAINDICATED_DIAGNOSIS) or the
    indications the drug needs one of (NO_INDICATION)."""

    drug: str
    icd_prefixes: tuple[str, ...]
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class PopulationRule:
    """A drug to avoid in pregnancy or lactation."""

    drug: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class AgeRule:
    """A drug inappropriate below age_min or at/above age_max (years)."""

    drug: str
    age_min: float | None
    age_max: float | None
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class AllergyClass:
    """An allergy class (青霉素类 …): the words patients' records use, its members, and the classes
    with known cross-sensitivity."""

    name: str
    aliases: tuple[str, ...]
    members: tuple[str, ...]
    cross: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Routes a drug must never be given by, whatever its form allows (e.g. 氯化钾注射液 iv push)."""

    drug: str
    forbidden: tuple[str, ...]
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class ChronicCondition:
    """A stable chronic disease that justifies a long-term prescription over 4 weeks."""

    icd_prefix: str
    name: str
    source: str


@dataclass(frozen=True)
class KnowledgeBase:
    """One version of the knowledge, as imported; compile it with `compile_knowledge`."""

    version: str
    classes: tuple[DrugClass, ...] = ()
    interactions: tuple[Interaction, ...] = ()
    doses: tuple[DoseRange, ...] = ()
    contraindications: tuple[DiagnosisRule, ...] = ()
    indications: tuple[DiagnosisRule, ...] = ()
    pregnancy: tuple[PopulationRule, ...] = ()
    lactation: tuple[PopulationRule, ...] = ()
    ages: tuple[AgeRule, ...] = ()
    allergies: tuple[AllergyClass, ...] = ()
    routes: tuple[RouteRule, ...] = ()
    chronic: tuple[ChronicCondition, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {
            "classes": len(self.classes),
            "interactions": len(self.interactions),
            "doses": len(self.doses),
            "contraindications": len(self.contraindications),
            "indications": len(self.indications),
            "pregnancy": len(self.pregnancy),
            "lactation": len(self.lactation),
            "ages": len(self.ages),
            "allergies": len(self.allergies),
            "routes": len(self.routes),
            "chronic": len(self.chronic),
        }

    def drug_refs(self) -> set[str]:
        """Every drug reference used by any row."""
        refs: set[str] = set()
        for i in self.interactions:
            refs.update((i.a, i.b))
        for group in (self.doses, self.contraindications, self.indications, self.pregnancy, self.lactation,
                      self.ages, self.routes):
            refs.update(r.drug for r in group)  # type: ignore[attr-defined]
        for a in self.allergies:
            refs.update(a.members)
        return refs
