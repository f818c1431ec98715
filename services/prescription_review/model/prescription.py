"""A prescription as the HIS sends it for screening (审方): typed, immutable, ready for the engine.

Shapes follow issue 11's request body. Units: dose in `dose_unit` (mg, g, μg, IU, 万单位, ml or
the item's dispensing unit such as 片), quantity in the item's dispensing unit, days in days,
age in years (or days for infants), weight in kg. Times are timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RX_TYPES = ("outpatient", "emergency", "long_term", "inpatient")
SEXES = ("F", "M", "U")

# Administrations per day for each usual frequency code (处方常用外文缩写).
# None: as needed (prn) — no fixed daily count; "st" is a single administration (立即).
DOSES_PER_DAY: dict[str, float | None] = {
    "qd": 1.0,
    "bid": 2.0,
    "tid": 3.0,
    "qid": 4.0,
    "q6h": 4.0,
    "q8h": 3.0,
    "q12h": 2.0,
    "qn": 1.0,
    "qod": 0.5,
    "qw": 1.0 / 7.0,
    "prn": None,
    "st": None,
}
FREQUENCIES = tuple(DOSES_PER_DAY)

ROUTES = (
    "oral", "sublingual", "iv", "ivgtt", "im", "sc", "id", "inhalation", "topical", "eye", "ear",
    "nasal", "rectal", "vaginal", "intrathecal", "other",
)  # fmt: skip

# Words a prescriber writes instead of a dose or frequency; 处方管理办法 第六条(五) forbids them.
VAGUE_WORDS = ("遵医嘱", "自用", "按说明书", "as directed", "遵嘱")


def administrations(frequency: str, days: int) -> float | None:
    """How many times the drug is given over `days` at `frequency`; None for prn.

    `st` is one administration whatever the days; `qw`/`qod` round up to whole administrations.
    """
    if frequency == "st":
        return 1.0
    per_day = DOSES_PER_DAY.get(frequency)
    if per_day is None:
        return None
    if per_day < 1:
        whole = days * per_day
        return float(int(whole) + (0 if whole == int(whole) else 1))
    return per_day * days


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """An ICD-10 coded diagnosis (临床诊断), e.g. I10 原发性高血压."""

    code: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient facts screening needs, nothing more (no name, no ID number)."""

    id: str
    age_years: float | None = None
    age_days: int | None = None
    sex: str = "U"
    weight_kg: float | None = None
    pregnant: bool = False
    lactating: bool = False
    allergies: tuple[str, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()

    @property
    def age(self) -> float | None:
        """Age in years (from age_days for infants); None when the HIS gave neither."""
        if self.age_years is not None:
            return float(self.age_years)
        if self.age_days is not None:
            return self.age_days / 365.25
        return None


@dataclass(frozen=True, slots=True)
class Prescriber:
    """The prescriber as the HIS describes them (the registry, where it knows them, wins)."""

    id: str
    privileges: tuple[str, ...] = ()
    title: str | None = None


@dataclass(frozen=True, slots=True)
class RxItem:
    """One line of the prescription. `dose`/`frequency` may be None or vague text (then flagged)."""

    item_code: str
    dose: float | None
    dose_unit: str | None
    frequency: str | None
    route: str | None
    days: int | None
    quantity: float | None
    dose_text: str | None = None  # what the prescriber wrote when it was not a number (遵医嘱 …)
    frequency_text: str | None = None


@dataclass(frozen=True, slots=True)
class Prescription:
    """A prescription to screen (处方). `items` keep the order the prescriber wrote them in."""

    prescription_no: str
    site_code: str
    type: str
    issued_at: datetime
    prescriber: Prescriber
    patient: Patient
    items: tuple[RxItem, ...]
    valid_days: int = 1  # 处方管理办法 第十八条: valid on the day of issue, extendable to 3 days

    def lines(self) -> list[tuple[str, float]]:
        """(item_code, quantity) of every line that has a quantity, for dispensing events."""
        return [(i.item_code, i.quantity) for i in self.items if i.quantity is not None]
