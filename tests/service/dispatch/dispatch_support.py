"""Helpers of dispatch's use-case tests (importable from any folder)."""

from __future__ import annotations

from datetime import date, timedelta

from services.dispatch import service
from services.dispatch.app import SPEC
from services.dispatch.fleet import seed_fleet_if_empty
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from shared.auth import Principal
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, handle_event

DISPATCHER = Principal("disp-1", ("dispatcher",), name="调度员")


def next_monday() -> date:
    """The next Monday (plans are for today onwards; Monday has every round due)."""
    today = service.today()
    return today + timedelta(days=7 - today.weekday())


def load_county(ctx: ServiceContext, profile: str = "chengwu", **sizes: int) -> None:
    """Feed the sample county's sites to dispatch as the formulary would, and seed the default fleet."""
    for site in generate_county(profile, **sizes).sites:
        data = {**site_payload(site), "version": 1, "catalogue_version": 1}
        handle_event(SPEC, ctx, new_event("formulary.site.upserted", data, source="/countyhub/formulary"))
    with unit_of_work(ctx.factory) as session:
        seed_fleet_if_empty(session)
