"""Sites carry an optional address and phone from the proposal to the published snapshot (manifests print them)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.formulary.schemas import SiteIn
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from services.formulary.snapshots import site_snapshot
from shared.events.contracts import SiteSnapshot


def test_every_generated_site_has_an_address_and_phone_that_reach_the_snapshot() -> None:
    for site in generate_county().sites:
        cmd = SiteIn().load(site_payload(site))
        assert cmd.site["address"] == site.address and cmd.site["phone"] == site.phone
        row = {**cmd.site, "code": site.code, "version": 1, "catalogue_version": 1}
        loaded = SiteSnapshot().load(site_snapshot(row))
        assert (loaded["address"], loaded["phone"]) == (site.address, site.phone)
        assert loaded["receiving_hours"] == [{"start": a, "end": b} for a, b in site.receiving_hours]


def test_contact_details_are_optional_and_an_older_snapshot_still_loads() -> None:
    site = generate_county().sites[5]
    body = {k: v for k, v in site_payload(site).items() if k not in ("address", "phone")}
    assert "address" not in SiteIn().load(body).site
    old = {**{k: v for k, v in body.items()}, "version": 1, "catalogue_version": 1}
    assert SiteSnapshot().load(old)["address"] is None


@pytest.mark.parametrize("phone", ["call me", "12", "0530-123x456"])
def test_a_phone_that_is_not_a_number_is_refused_naming_the_field(phone: str) -> None:
    with pytest.raises(ValidationError) as err:
        SiteIn().load({**site_payload(generate_county().sites[5]), "phone": phone})
    assert "phone" in err.value.messages
