"""Postal addresses and receiving phones for generated sites (what drivers' manifests print)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.formulary.seed.county import Site


def with_contact(site: Site, county_name: str, area: str) -> Site:
    """The site with a postal address and a receiving phone (printed on drivers' manifests).

    Made from the site's own name and code with a separate generator, so adding them leaves every
    other generated figure (coordinates, hours, credit codes) as it was. Area codes: 0530 菏泽 (成武县),
    0633 日照 (generated counties). Village clinics usually give the doctor's mobile (11 digits).
    """
    rng = random.Random(f"contact:{site.code}")
    if site.level == "village":
        address = site.name.removesuffix("卫生室") + "村委会旁"
        phone = f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"
    elif site.level == "township":
        address = (
            site.name.removesuffix("社区卫生服务中心").removesuffix("卫生院")
            + f"中心街{rng.randint(1, 199)}号"
        )
        phone = f"{area}-{rng.randint(2, 8)}{rng.randrange(10**6):06d}"
    else:
        address = (
            f"{county_name}城区{rng.choice(('人民路', '健康路', '文化路', '解放路'))}{rng.randint(1, 399)}号"
        )
        phone = f"{area}-{rng.randint(2, 8)}{rng.randrange(10**6):06d}"
    return replace(site, address=address, phone=phone)
