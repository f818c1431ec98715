"""Regenerate sample/interactions_onc*.csv: the ONC interaction lists mapped to the catalogue's 通用名.

    python -m services.prescription_review.knowledge.build_onc [/path/to/shared/data/formulary/ddi_onc]

Reads `ONC_High_Priority_Mapped.csv` (-> level `major`) and `ONC_Non_Interuptive_Mapped.csv`
(-> level `moderate`: the list of interactions that should not interrupt the prescriber) from the
shared data folder (see its README for provenance: dbmi-pitt/public-PDDI-analysis @ 8199ee66,
Phansalkar S et al. JAMIA 2012;19:735-43 and 2013;20:489-93), and the seed catalogue's
`generic_name_en` column. A drug maps to every catalogue generic whose English name matches
case-insensitively (aliases below cover spellings that differ). Pairs are written once, sorted.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DDI = ROOT.parent / "shared" / "data" / "formulary" / "ddi_onc"
CATALOGUE = ROOT / "services" / "formulary" / "seed" / "catalogue.csv"
OUT = Path(__file__).parent / "sample"
# ONC spelling -> catalogue generic_name_en spelling, where they differ.
ALIASES = {"acetylsalicylic acid": "aspirin", "gentamicin": "gentamycin", "levothyroxine": "levothyroxine sodium"}
LISTS = (
    ("ONC_High_Priority_Mapped.csv", "interactions_onc.csv", "major",
     "ONC high-priority DDI list (Phansalkar 2012 JAMIA 19:735; dbmi-pitt/public-PDDI-analysis@8199ee66)"),
    ("ONC_Non_Interuptive_Mapped.csv", "interactions_onc_noninterruptive.csv", "moderate",
     "ONC non-interruptive DDI list (Phansalkar 2013 JAMIA 20:489; dbmi-pitt/public-PDDI-analysis@8199ee66)"),
)  # fmt: skip


def catalogue_names() -> dict[str, set[str]]:
    """lower-case English name -> catalogue generic names."""
    names: dict[str, set[str]] = {}
    with CATALOGUE.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            en = (row["generic_name_en"] or "").strip().lower()
            if row["kind"] == "drug" and en:
                names.setdefault(en, set()).add(row["generic_name"])
    return names


def build(ddi_dir: Path = DEFAULT_DDI) -> dict[str, int]:
    """Write the mapped files; return pairs written per file."""
    names = catalogue_names()
    written: dict[str, int] = {}
    for src, dst, level, source in LISTS:
        pairs: dict[tuple[str, str], tuple[str, str]] = {}
        text = (ddi_dir / src).read_text(encoding="utf-8-sig")
        for line in text.splitlines():
            parts = line.split("$")
            if len(parts) < 4:
                continue
            a_en, b_en = parts[0].strip(), parts[2].strip()
            for a in names.get(ALIASES.get(a_en.lower(), a_en.lower()), ()):
                for b in names.get(ALIASES.get(b_en.lower(), b_en.lower()), ()):
                    if a != b:
                        key = (min(a, b), max(a, b))
                        pairs.setdefault(key, (a_en, b_en))
        with (OUT / dst).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["a", "b", "level", "message", "source"])
            for (a, b), (a_en, b_en) in sorted(pairs.items()):
                w.writerow([a, b, level, f"ONC 列表: {a_en} + {b_en}", f"{source}: {a_en}–{b_en}"])
        written[dst] = len(pairs)
    return written


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DDI))
