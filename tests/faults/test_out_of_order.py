"""Snapshots delivered out of order never overwrite newer data (issue 13).

For every registered service that keeps the formulary read model (derived from the registry), on
SQLite and on the real PostgreSQL: hypothesis draws the version history of one item (publishes and
retirements, as formulary makes them: services/formulary/approval.py), one site and one site's
stocking list, delivers ALL of those events in any order, in batches of any size, through the
runtime's real consuming path (shared.runtime.handle_each: inbox, contract, the service's handlers),
and the read model must end exactly in the state of the newest version. A handler that refuses an
event (a retirement of an item not known yet) is retried after the others, as the retry queue does.
The rule under test is in shared/reference_store.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shared.events.envelope import CloudEvent, new_event
from shared.reference_store import NotYetKnown
from shared.runtime import ServiceContext, ServiceSpec, handle_each
from tests.faults.bus_faults_support import (
    SOURCE,
    item_payload,
    reference_keepers,
    retired_payload,
    site_payload,
    stocklist_payload,
)
from tests.support.backends import BACKENDS, Backend

pytestmark = pytest.mark.integration

KEEPERS = reference_keepers()
_serial = itertools.count(1)


@dataclass(frozen=True)
class History:
    """One item's, one site's and one stocking list's versions, and the state the newest one means."""

    events: list[CloudEvent]
    item_code: str
    item_expected: dict[str, Any]  # the snapshot, status and version the item must end with
    site_code: str
    site_expected: dict[str, Any]
    list_expected: tuple[int, list[str]]  # catalogue version, sorted codes


@st.composite
def histories(draw: st.DrawFn) -> History:
    """A formulary history: the item is created, then each later version updates or retires it (an
    update of a retired item stays retired, as formulary keeps the status); catalogue versions grow."""
    n = next(_serial)
    code, site = f"OO{n:06d}", f"V{n:08d}"
    steps = draw(st.lists(st.sampled_from(["publish", "retire"]), min_size=0, max_size=4))
    gaps = draw(st.lists(st.integers(1, 3), min_size=len(steps) + 1, max_size=len(steps) + 1))
    catalogue = list(itertools.accumulate(gaps))
    events: list[CloudEvent] = []
    status, last_publish = "active", item_payload(code, 1, catalogue[0])
    events.append(new_event("formulary.item.published", last_publish, source=SOURCE))
    for version, (step, cv) in enumerate(zip(steps, catalogue[1:], strict=True), start=2):
        if step == "retire":
            status = "retired"
            events.append(new_event("formulary.item.retired", retired_payload(code, version, cv), source=SOURCE))
        else:
            last_publish = item_payload(code, version, cv, status=status)
            events.append(new_event("formulary.item.published", last_publish, source=SOURCE))
    newest = len(steps) + 1
    item_expected = {"snapshot": dict(last_publish, status=status, version=newest), "status": status, "version": newest}

    site_versions = draw(st.integers(1, 4))
    actives = draw(st.lists(st.booleans(), min_size=site_versions, max_size=site_versions))
    sites = [site_payload(site, v, active=a) for v, a in zip(range(1, site_versions + 1), actives, strict=True)]
    events += [new_event("formulary.site.upserted", s, source=SOURCE) for s in sites]

    list_versions = draw(st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True))
    pool = [f"YP{i:06d}" for i in range(8)]
    lists = {v: draw(st.lists(st.sampled_from(pool), max_size=6, unique=True)) for v in list_versions}
    events += [new_event("formulary.stocklist.changed", stocklist_payload(site, v, c), source=SOURCE) for v, c in lists.items()]
    newest_list = max(lists)
    return History(events, code, item_expected, site, sites[-1], (newest_list, sorted(lists[newest_list])))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Fresh, migrated databases on SQLite, then on PostgreSQL (one per keeper, kept for the module)."""
    made = Backend(str(request.param), tmp_path_factory.mktemp(f"ooo-{request.param}"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def keepers(backend: Backend) -> dict[str, ServiceContext]:
    """name -> a migrated database of each service that keeps the read model."""
    return {spec.name: backend.context(spec) for spec in KEEPERS}


def deliver_in_order(spec: ServiceSpec, ctx: ServiceContext, order: list[CloudEvent], batches: list[int]) -> int:
    """Deliver `order` in batches of the given sizes (cycled) as the RabbitMQ consumer does; what a
    handler refused goes to the back of the line. Returns how many retries it took."""
    line, retries, sizes = list(order), 0, itertools.cycle(batches)
    while line:
        size = next(sizes)
        batch, line = line[:size], line[size:]
        for event, outcome in zip(batch, handle_each(spec, ctx, batch), strict=True):
            if outcome is None:
                continue
            assert isinstance(outcome, NotYetKnown), f"{event.type} v{event.data.get('version')}: {outcome!r}"
            retries += 1
            assert retries <= 4 * len(order) ** 2, "the line never drained"
            line.append(event)
    return retries


def read_back(ctx: ServiceContext, history: History) -> tuple[Any, Any, Any]:
    items, sites, lists = (ctx.metadata.tables[n] for n in ("ref_items", "ref_sites", "ref_stocklists"))
    with ctx.factory() as session:
        item = session.execute(select(items).where(items.c.code == history.item_code)).one()
        site = session.execute(select(sites).where(sites.c.code == history.site_code)).one()
        stocklist = session.execute(select(lists).where(lists.c.scope_key == f"site:{history.site_code}")).one()
    return item, site, stocklist


def test_the_registry_has_read_model_keepers() -> None:
    # The property below runs once per keeper: it must not pass vacuously with none.
    assert {"procurement", "dispatch", "prescription_review"} <= {s.name for s in KEEPERS}


@pytest.mark.parametrize("spec", KEEPERS, ids=[s.name for s in KEEPERS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_delivery_order_ends_in_the_newest_version(
    spec: ServiceSpec, keepers: dict[str, ServiceContext], data: st.DataObject
) -> None:
    history = data.draw(histories(), label="history")
    order = data.draw(st.permutations(history.events), label="delivery order")
    batches = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="batch sizes")
    ctx = keepers[spec.name]
    deliver_in_order(spec, ctx, order, batches)

    item, site, stocklist = read_back(ctx, history)
    expected = history.item_expected
    assert (item.version, item.status) == (expected["version"], expected["status"])
    assert item.snapshot == expected["snapshot"]
    content = expected["snapshot"]
    assert (item.generic_name, item.storage, item.package_size, item.volume_cm3) == (
        content["generic_name"], content["storage"], content["package_size"], content["volume_cm3"])  # fmt: skip
    assert site.version == history.site_expected["version"] and site.snapshot == history.site_expected
    assert (site.name, site.active, site.lat) == (
        history.site_expected["name"], history.site_expected["active"], history.site_expected["lat"])  # fmt: skip
    assert (stocklist.catalogue_version, stocklist.item_codes) == history.list_expected


@pytest.mark.parametrize("spec", KEEPERS, ids=[s.name for s in KEEPERS])
def test_a_retirement_before_its_last_update_keeps_that_update(spec: ServiceSpec, keepers: dict[str, ServiceContext]) -> None:
    """The issue's case spelled out: v1, the retirement (v3), then the late v2 update."""
    code = f"OR{next(_serial):06d}"
    v1, v2 = item_payload(code, 1, 10), item_payload(code, 2, 11, generic_name="阿莫西林胶囊(新)")
    order = [
        new_event("formulary.item.published", v1, source=SOURCE),
        new_event("formulary.item.retired", retired_payload(code, 3, 12), source=SOURCE),
        new_event("formulary.item.published", v2, source=SOURCE),
        new_event("formulary.item.published", v1, source=SOURCE),  # and v1 again, re-published late
    ]
    assert deliver_in_order(spec, keepers[spec.name], order, [1]) == 0
    items = keepers[spec.name].metadata.tables["ref_items"]
    with keepers[spec.name].factory() as session:
        row = session.execute(select(items).where(items.c.code == code)).one()
    assert (row.version, row.status, row.generic_name) == (3, "retired", "阿莫西林胶囊(新)")
    assert row.snapshot == dict(v2, status="retired", version=3)


@pytest.mark.parametrize("spec", KEEPERS, ids=[s.name for s in KEEPERS])
def test_a_retirement_before_the_first_snapshot_waits_for_it(spec: ServiceSpec, keepers: dict[str, ServiceContext]) -> None:
    """Refused (NotYetKnown, nothing written) until the item's snapshot is there, then applied."""
    code = f"OR{next(_serial):06d}"
    retire = new_event("formulary.item.retired", retired_payload(code, 2, 21), source=SOURCE)
    publish = new_event("formulary.item.published", item_payload(code, 1, 20), source=SOURCE)
    assert deliver_in_order(spec, keepers[spec.name], [retire, publish], [1]) == 1
    items = keepers[spec.name].metadata.tables["ref_items"]
    with keepers[spec.name].factory() as session:
        row = session.execute(select(items).where(items.c.code == code)).one()
    assert (row.version, row.status, row.snapshot["generic_name"]) == (2, "retired", "阿莫西林1")
