"""Sample county medical communities (县域医共体): sites, legal names, credit codes, places, hours.

Pure Python and deterministic: the same profile and seed always give the same county, so demos,
tests and benchmarks can name sites by code and get the same coordinates every time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

from services.formulary.codes import uscc_check_char
from services.formulary.seed.contacts import with_contact

LEVELS = ("county_hospital", "township", "village")

# The 成武县 profile. The box is the county's extent (~988 km²); the centre is the county seat.
CHENGWU_DIVISION = "371723"
CHENGWU_CENTRE = (34.95, 115.89)
CHENGWU_BOUNDS = (34.83, 35.10, 115.72, 116.08)  # south, north, west, east
GENERATED_DIVISION = "371799"  # an unused county code in 菏泽市, so it can never clash with a real one

# 成武县's two 街道 and eleven 镇 (2023 division list). Positions are approximate, from each
# town's described bearing and distance from the county seat (e.g. 伯乐集 5 km north-west, 苟村集
# 5 km east, 大田集 25 km north-east at the 金乡 border); 南鲁集, 党集 and 白浮图 are best guesses.
CHENGWU_TOWNSHIPS: tuple[tuple[str, float, float], ...] = (
    ("文亭街道", 34.954, 115.874),
    ("永昌街道", 34.940, 115.902),
    ("伯乐集镇", 34.985, 115.845),
    ("苟村集镇", 34.950, 115.950),
    ("孙寺镇", 34.893, 115.957),
    ("天宫庙镇", 34.880, 115.892),
    ("九女集镇", 34.872, 115.792),
    ("汶上集镇", 35.048, 115.765),
    ("南鲁集镇", 35.030, 115.862),
    ("党集镇", 35.062, 115.962),
    ("大田集镇", 35.072, 116.040),
    ("张楼镇", 35.012, 116.020),
    ("白浮图镇", 34.930, 116.025),
)
CHENGWU_VILLAGES = 105

# Common Heze/Shandong village-name parts: a surname (sometimes two) and a settlement word.
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林郑梁谢宋许韩冯曹彭田董潘袁蒋于杜魏苏吕丁任"
    "姚崔姜范石贾孔侯孟秦邵薛段史陶毛郝武常牛葛邢齐乔庞颜鲁岳翟申耿焦祝毕单霍苗路靳"
)
SETTLEMENTS = "庄庄庄楼楼楼集寨屯店营口庙堂园铺桥洼坊"
PREFIXES = ("", "", "", "", "", "", "大", "小", "前", "后", "东", "西", "南", "北")

# Syllables for generated township names (安集镇, 龙店镇 …).
TOWN_FIRST = "安柏城大东丰高广和河红黄金靖乐龙马南平齐清仁三石太文西新兴杨永玉长中朱白青双"
TOWN_SECOND = "集庄店屯营桥坊口湖埠岭官庙寨楼阳台河山"

KM_PER_DEG_LAT = 111.0
VILLAGE_RADIUS_KM = 8.0


@dataclass(frozen=True)
class Site:
    """A member institution of the medical community, as the catalogue and dispatch see it."""

    code: str
    name: str
    tax_id: str
    level: str
    parent_code: str | None
    lat: float
    lon: float
    receiving_hours: tuple[tuple[str, str], ...]
    is_hub: bool = False
    address: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class County:
    """A whole county medical community: the hub first, then every other site."""

    name: str
    division_code: str
    hub: Site
    sites: tuple[Site, ...]
    bounds: tuple[float, float, float, float]  # south, north, west, east

    def by_level(self, level: str) -> tuple[Site, ...]:
        """Sites of one level, in generation order."""
        return tuple(s for s in self.sites if s.level == level)

    def children(self, code: str) -> tuple[Site, ...]:
        """Sites whose parent is the given site."""
        return tuple(s for s in self.sites if s.parent_code == code)

    def site(self, code: str) -> Site:
        """The site with this code (KeyError if none)."""
        for s in self.sites:
            if s.code == code:
                return s
        raise KeyError(code)


PROFILE_SIZES = {"rizhao": (55, 1583)}  # 日照市-size: townships, village clinics


def parse_profile(profile: str, townships: int | None = None, clinics: int | None = None) -> tuple[str, int | None, int | None]:
    """("generated", townships, clinics) for "generated:T:C" or a sized alias; other profiles unchanged."""
    if profile in PROFILE_SIZES:
        return ("generated", *PROFILE_SIZES[profile])
    name, _, sizes = profile.partition(":")
    if name == "generated" and sizes:
        t, _, c = sizes.partition(":")
        if not t.isdigit() or (c and not c.isdigit()):
            raise ValueError(f"profile {profile!r}: sizes are generated:<townships>:<clinics>")
        return name, int(t), int(c) if c else clinics
    return profile, townships, clinics


def generate_county(
    profile: str = "chengwu", seed: int = 2026, townships: int | None = None, clinics: int | None = None
) -> County:
    """A deterministic sample county: "chengwu" (成武县) or "generated" (any size).

    The profile may carry the sizes: "generated:<townships>:<clinics>"; "rizhao" is a Rizhao-size
    county (55 townships, 1,583 village clinics), the size dispatch's city-day figures use.
    """
    profile, townships, clinics = parse_profile(profile, townships, clinics)
    rng = random.Random(seed)
    if profile == "chengwu":
        if townships not in (None, len(CHENGWU_TOWNSHIPS)):
            raise ValueError(f"the chengwu profile has {len(CHENGWU_TOWNSHIPS)} townships")
        return _build(
            rng,
            county_name="成武县",
            division=CHENGWU_DIVISION,
            prefix="CW",
            bounds=CHENGWU_BOUNDS,
            towns=[(name, lat, lon) for name, lat, lon in CHENGWU_TOWNSHIPS],
            clinics=CHENGWU_VILLAGES if clinics is None else clinics,
            jitter_deg=0.004,
        )
    if profile == "generated":
        n = 13 if townships is None else townships
        if n < 1:
            raise ValueError("a county needs at least one township")
        bounds = _scaled_bounds(n)
        names = _township_names(rng, n)
        places = _grid_places(rng, n, bounds)
        return _build(
            rng,
            county_name="示例县",
            division=GENERATED_DIVISION,
            prefix="GN",
            bounds=bounds,
            towns=[(name, lat, lon) for name, (lat, lon) in zip(names, places, strict=True)],
            clinics=n * 8 if clinics is None else clinics,
            jitter_deg=0.0,  # grid places are already jittered
        )
    raise ValueError(f"unknown county profile {profile!r}")


def default_rounds(site: Site) -> dict[str, str]:
    """Recurring logistics rounds (linen, sterile instruments, specimens) a site gets by default."""
    if site.is_hub:
        return {}  # the hub is where rounds start and end
    if site.level == "village":
        return {"linen": "weekly", "instruments": "weekly", "specimens": "twice_weekly"}
    return {"linen": "daily", "instruments": "daily", "specimens": "daily"}


def _build(
    rng: random.Random,
    *,
    county_name: str,
    division: str,
    prefix: str,
    bounds: tuple[float, float, float, float],
    towns: list[tuple[str, float, float]],
    clinics: int,
    jitter_deg: float,
) -> County:
    """Assemble hospitals, townships and villages; all randomness comes from rng, in a fixed order."""
    if clinics < 0:
        raise ValueError("clinics must not be negative")
    taken: set[str] = set()
    clat, clon = CHENGWU_CENTRE if division == CHENGWU_DIVISION else _centre(bounds)
    hospitals = (
        (f"{county_name}人民医院", True),
        (f"{county_name}中医医院", False),
        (f"{county_name}妇幼保健院", False),
    )
    sites: list[Site] = []
    for i, (name, is_hub) in enumerate(hospitals, start=1):
        # The county hospitals sit in the county seat, a few hundred metres apart.
        lat, lon = _inside(bounds, clat + rng.uniform(-0.006, 0.006), clon + rng.uniform(-0.006, 0.006))
        sites.append(
            Site(
                code=f"{prefix}-H{i:02d}",
                name=name,
                tax_id=_tax_id(rng, division, taken),
                level="county_hospital",
                parent_code=None,
                lat=round(lat, 6),
                lon=round(lon, 6),
                receiving_hours=_hospital_hours(rng),
                is_hub=is_hub,
            )
        )
    hub = sites[0]
    width_t = max(2, len(str(len(towns))))
    counts = _spread(rng, clinics, len(towns))
    for t, ((town, tlat, tlon), n_villages) in enumerate(zip(towns, counts, strict=True), start=1):
        tcode = f"{prefix}-T{t:0{width_t}d}"
        # 街道 have a 社区卫生服务中心 instead of a 卫生院; both play the township role in the 医共体.
        centre = "社区卫生服务中心" if town.endswith("街道") else "卫生院"
        lat, lon = _inside(
            bounds, tlat + rng.uniform(-jitter_deg, jitter_deg), tlon + rng.uniform(-jitter_deg, jitter_deg)
        )
        sites.append(
            Site(
                code=tcode,
                name=f"{county_name}{town}{centre}",
                tax_id=_tax_id(rng, division, taken),
                level="township",
                parent_code=hub.code,
                lat=round(lat, 6),
                lon=round(lon, 6),
                receiving_hours=_township_hours(rng),
            )
        )
        width_v = max(2, len(str(n_villages)))
        for v, village in enumerate(_village_names(rng, n_villages), start=1):
            vlat, vlon = _near(rng, lat, lon, bounds)
            sites.append(
                Site(
                    code=f"{tcode}-V{v:0{width_v}d}",
                    name=f"{county_name}{town}{village}卫生室",
                    tax_id=_tax_id(rng, division, taken),
                    level="village",
                    parent_code=tcode,
                    lat=round(vlat, 6),
                    lon=round(vlon, 6),
                    receiving_hours=_village_hours(rng),
                )
            )
    area = "0530" if division == CHENGWU_DIVISION else "0633"
    sites = [with_contact(site, county_name, area) for site in sites]
    return County(name=county_name, division_code=division, hub=sites[0], sites=tuple(sites), bounds=bounds)


def _org_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714): 8 digits and their own check character."""
    # Converted public institutions keep their old organisation code inside the credit code,
    # and that code carries its own check character, so a well-formed sample has one too.
    body = "4" + "".join(rng.choice("0123456789") for _ in range(7))
    total = sum(int(ch) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def _tax_id(rng: random.Random, division: str, taken: set[str]) -> str:
    """A unique 统一社会信用代码 for a public institution (登记管理部门 1, 机构类别 2) in the division."""
    while True:
        first17 = "12" + division + _org_code(rng)
        code = first17 + uscc_check_char(first17)
        if code not in taken:
            taken.add(code)
            return code


def _spread(rng: random.Random, total: int, n: int) -> list[int]:
    """Split total into n counts that differ from the mean by a little (8 ± 2 for Chengwu)."""
    base, extra = divmod(total, n)
    counts = [base + (1 if i < extra else 0) for i in range(n)]
    rng.shuffle(counts)
    lo, hi = max(0, base - max(2, base // 4)), base + max(2, base // 4)
    # Moving one clinic between random townships keeps the total and stays within [lo, hi].
    for _ in range(n * 3):
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b and counts[a] > lo and counts[b] < hi:
            counts[a] -= 1
            counts[b] += 1
    return counts


def _village_names(rng: random.Random, n: int) -> list[str]:
    """n distinct village names in the common patterns (王庄村, 东李楼村, 孔李楼村)."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        if rng.random() < 0.12:
            stem = rng.choice(SURNAMES) + rng.choice(SURNAMES)  # double-surname villages such as 孔李楼
        else:
            stem = rng.choice(PREFIXES) + rng.choice(SURNAMES)
        name = f"{stem}{rng.choice(SETTLEMENTS)}村"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _township_names(rng: random.Random, n: int) -> list[str]:
    """n distinct syllable-built town names; numbered names once the syllables run out."""
    combos = [a + b for a in TOWN_FIRST for b in TOWN_SECOND if a != b]
    if n <= len(combos):
        return [name + "镇" for name in rng.sample(combos, n)]
    return [f"第{i}镇" for i in range(1, n + 1)]


def _scaled_bounds(n: int) -> tuple[float, float, float, float]:
    """Chengwu's extent scaled by sqrt(n/13) around the Chengwu centre, so density stays plausible."""
    scale = math.sqrt(n / len(CHENGWU_TOWNSHIPS))
    south, north, west, east = CHENGWU_BOUNDS
    half_lat, half_lon = (north - south) / 2 * scale, (east - west) / 2 * scale
    lat, lon = CHENGWU_CENTRE
    return (lat - half_lat, lat + half_lat, lon - half_lon, lon + half_lon)


def _centre(bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    """The middle of a box."""
    south, north, west, east = bounds
    return (south + north) / 2, (west + east) / 2


def _grid_places(
    rng: random.Random, n: int, bounds: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """n township places on a jittered grid over the box, north-west first."""
    south, north, west, east = bounds
    lat_mid = (south + north) / 2
    height_km = (north - south) * KM_PER_DEG_LAT
    width_km = (east - west) * KM_PER_DEG_LAT * math.cos(math.radians(lat_mid))
    cols = max(1, round(math.sqrt(n * width_km / height_km)))
    rows = math.ceil(n / cols)
    cells = sorted(rng.sample(range(rows * cols), n))
    places = []
    for cell in cells:
        r, c = divmod(cell, cols)
        # Jitter within the middle of the cell so neighbouring towns never coincide.
        lat = north - (r + 0.5 + rng.uniform(-0.3, 0.3)) * (north - south) / rows
        lon = west + (c + 0.5 + rng.uniform(-0.3, 0.3)) * (east - west) / cols
        places.append((lat, lon))
    return places


def _inside(bounds: tuple[float, float, float, float], lat: float, lon: float) -> tuple[float, float]:
    """The point, clamped into the box."""
    south, north, west, east = bounds
    return min(max(lat, south), north), min(max(lon, west), east)


def _near(
    rng: random.Random, lat: float, lon: float, bounds: tuple[float, float, float, float]
) -> tuple[float, float]:
    """A point uniformly within VILLAGE_RADIUS_KM of (lat, lon) and inside the box."""
    south, north, west, east = bounds
    km_per_deg_lon = KM_PER_DEG_LAT * math.cos(math.radians(lat))
    for _ in range(50):
        # sqrt keeps the density uniform over the disc instead of crowding the township centre.
        r = VILLAGE_RADIUS_KM * math.sqrt(rng.random()) * 0.95
        a = rng.uniform(0, 2 * math.pi)
        vlat, vlon = lat + r * math.cos(a) / KM_PER_DEG_LAT, lon + r * math.sin(a) / km_per_deg_lon
        if south <= vlat <= north and west <= vlon <= east:
            return vlat, vlon
    return _inside(bounds, lat, lon)


def _hhmm(minutes: int) -> str:
    """Minutes after midnight as HH:MM."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _window(rng: random.Random, starts: Iterable[int], ends: Iterable[int]) -> tuple[str, str]:
    """One receiving window picked from the given start and end choices (minutes)."""
    return _hhmm(rng.choice(list(starts))), _hhmm(rng.choice(list(ends)))


def _hospital_hours(rng: random.Random) -> tuple[tuple[str, str], ...]:
    """County hospitals receive all day: about 07:30–18:00."""
    return (_window(rng, (7 * 60, 7 * 60 + 30), (17 * 60 + 30, 18 * 60)),)


def _township_hours(rng: random.Random) -> tuple[tuple[str, str], ...]:
    """Township centres close at noon: about 08:00–12:00 and 14:00–17:30."""
    return (
        _window(rng, (7 * 60 + 30, 8 * 60, 8 * 60 + 30), (11 * 60 + 30, 12 * 60)),
        _window(rng, (14 * 60, 14 * 60 + 30), (17 * 60, 17 * 60 + 30)),
    )


def _village_hours(rng: random.Random) -> tuple[tuple[str, str], ...]:
    """Village clinics are one doctor who also visits homes: about 08:00–11:30 and 14:30–17:00."""
    return (
        _window(rng, (8 * 60, 8 * 60 + 30), (11 * 60, 11 * 60 + 30)),
        _window(rng, (14 * 60, 14 * 60 + 30, 15 * 60), (17 * 60, 17 * 60 + 30)),
    )
