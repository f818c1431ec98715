"""Duplicate delivery of every event type changes nothing twice (issue 13).

The (consumer, event type) pairs come from the registry (every ServiceSpec's handlers map, the
same source as the broker bindings); every event type with a contract must have a subscriber, and
every pair must have a case below, so a new event type or subscription fails here until it is
covered. For each pair, on a migrated PostgreSQL database of the real service: the event is
applied once (and must change something besides the inbox), then delivered again the ways the bus
repeats it, each through the runtime's real consuming path, and the whole database must be
identical to the state after the first delivery:

- the same message again (a redelivery after a lost ack: shared.runtime.handle_event);
- a re-published copy with the same id, twice in one batch (a relay re-sending after a crash,
  shared.runtime.handle_each as the RabbitMQ consumer runs it);
- the copy again through the embedded relay's path (shared.runtime.handle_batch).

The first delivery is also made with its twin in the same batch (consume_batch's in-batch repeat).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from services.procurement.model import commands as c
from services.procurement.model.requisition import OrderLine
from services.procurement.service import requisitions as rq
from shared.events.contracts import CONTRACTS
from shared.events.envelope import CloudEvent, new_event
from shared.runtime import ServiceContext, ServiceSpec, handle_batch, handle_each, handle_event
from tests.faults.bus_faults_support import (
    SOURCE,
    changed_tables,
    consumer_specs,
    dump,
    item_payload,
    retired_payload,
    site_payload,
    stocklist_payload,
)
from tests.service.procurement.procurement_support import (
    AMOX,
    KEEPER_T01,
    MANAGER,
    line,
    load_reference,
    stock_central,
)
from tests.support.backends import Backend

pytestmark = pytest.mark.integration

SPECS = {s.name: s for s in consumer_specs()}
PAIRS = sorted((name, event_type) for name, s in SPECS.items() for event_type in s.handlers)
_serial = itertools.count(1)

Case = Callable[[ServiceSpec, ServiceContext], CloudEvent]
"""case(spec, ctx) -> the event to deliver, after putting in place what it acts on."""


def _event(event_type: str, data: dict[str, object]) -> CloudEvent:
    return new_event(event_type, data, source=SOURCE)


def item_published(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    return _event("formulary.item.published", item_payload(f"DD{next(_serial):06d}", 1, 1))


def item_retired(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    code = f"DD{next(_serial):06d}"
    assert handle_event(spec, ctx, _event("formulary.item.published", item_payload(code, 1, 1)))
    return _event("formulary.item.retired", retired_payload(code, 2, 2))


def site_upserted(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    return _event("formulary.site.upserted", site_payload(f"VD{next(_serial):06d}", 1))


def stocklist_changed(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    return _event("formulary.stocklist.changed", stocklist_payload(f"VD{next(_serial):06d}", 3, ["YP000100", "YP000300"]))


def shipment_ready(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    line = {"item_code": AMOX, "quantity": 48, "compartment": "ambient", "volume_l": 0.24, "weight_kg": 0.12}
    return _event("procurement.shipment.ready", {
        "shipment_id": f"S-DD{next(_serial)}", "site_code": "T01", "requisition_id": None,
        "ready_at": "2026-12-01T08:00:00+08:00", "deliver_by": "2026-12-02", "priority": 2, "lines": [line],
        "volumes_l": {"ambient": 0.24}, "weights_kg": {"ambient": 0.12},
    })  # fmt: skip


def prescription_approved(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    return _event("review.prescription.approved", {
        "prescription_id": f"RX-DD{next(_serial)}", "site_code": "T01", "pharmacist": "ph-1",
        "approved_at": datetime.now(UTC).isoformat(), "lines": [{"item_code": AMOX, "quantity": 3}],
        "approved_how": "pharmacist",
    })  # fmt: skip


def _picked_shipment(ctx: ServiceContext) -> str:
    """A requisition approved and picked at the hub: its shipment id (what dispatch plans and delivers)."""
    req = rq.create_requisition(ctx, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(AMOX, 24),), submit=True))
    rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(req["id"]))
    return str(rq.pick_requisition(ctx, MANAGER, c.PickRequisition(req["id"]))["shipment_id"])


def plan_published(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    stop = {"stop_id": "T01", "site_code": "T01", "sequence": 1, "eta": "2026-12-01T09:30:00+08:00", "shipment_ids": [_picked_shipment(ctx)]}
    return _event("dispatch.plan.published", {"plan_id": f"P-DD{next(_serial)}", "date": "2026-12-01", "unassigned": [],
                                              "routes": [{"vehicle_id": "V1", "distance_km": 12.5, "stops": [stop]}]})  # fmt: skip


def stop_completed(spec: ServiceSpec, ctx: ServiceContext) -> CloudEvent:
    return _event("dispatch.stop.completed", {
        "plan_id": f"P-DD{next(_serial)}", "stop_id": "T01", "site_code": "T01", "shipment_ids": [_picked_shipment(ctx)],
        "completed_at": "2026-12-01T09:41:00+08:00", "received_by": "王药师", "delivered_l": {"ambient": 0.24},
    })  # fmt: skip


CASES: dict[str, Case] = {
    "formulary.item.published": item_published,
    "formulary.item.retired": item_retired,
    "formulary.site.upserted": site_upserted,
    "formulary.stocklist.changed": stocklist_changed,
    "procurement.shipment.ready": shipment_ready,
    "review.prescription.approved": prescription_approved,
    "dispatch.plan.published": plan_published,
    "dispatch.stop.completed": stop_completed,
}


def test_every_published_event_type_has_a_subscriber_and_a_case() -> None:
    subscribed = {event_type for _, event_type in PAIRS}
    assert set(CONTRACTS) <= subscribed, f"published but consumed by no registered service: {set(CONTRACTS) - subscribed}"
    assert subscribed <= set(CASES), f"no duplicate-delivery case for {sorted(subscribed - set(CASES))}: add one to CASES"
    assert len(PAIRS) >= 16  # 4 formulary.* events x 3 keepers, shipment.ready, 3 events procurement consumes


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceContext]]:
    """name -> a migrated PostgreSQL database of each consuming service; procurement knows the small
    county (sites, items, distributors) and holds central stock to pick requisitions from."""
    backend = Backend("postgresql", tmp_path_factory.mktemp("duplicates"))
    try:
        made = {name: backend.context(spec) for name, spec in SPECS.items()}
        if "procurement" in made:
            load_reference(made["procurement"])
            stock_central(made["procurement"], line(qty=2400))
        yield made
    finally:
        backend.close()


def _copy(event: CloudEvent) -> CloudEvent:
    """The same event as it arrives again after being re-published: parsed from its JSON, same id."""
    return CloudEvent.from_dict(json.loads(event.to_json()))


@pytest.mark.parametrize("first", ["alone", "with-its-twin"])
@pytest.mark.parametrize(("service", "event_type"), PAIRS, ids=[f"{s}-{t}" for s, t in PAIRS])
def test_a_repeated_event_changes_nothing_twice(
    contexts: dict[str, ServiceContext], service: str, event_type: str, first: str
) -> None:
    case = CASES.get(event_type)
    assert case is not None, f"no duplicate-delivery case for {event_type}"
    spec, ctx = SPECS[service], contexts[service]
    event = case(spec, ctx)
    assert event.type == event_type
    before = dump(ctx)

    if first == "alone":
        assert handle_event(spec, ctx, event) is True
    else:
        assert handle_each(spec, ctx, [event, _copy(event)]) == [None, None]
    once = dump(ctx)
    effects = changed_tables(before, once) - {"inbox"}
    assert effects, f"{service} did nothing with {event_type}: the repeat would prove nothing"
    assert len(once["inbox"]) == len(before["inbox"]) + 1

    assert handle_event(spec, ctx, event) is False  # redelivered as is
    assert dump(ctx) == once
    assert handle_each(spec, ctx, [_copy(event), _copy(event)]) == [None, None]  # re-published, twice in a batch
    assert dump(ctx) == once
    assert handle_batch(spec, ctx, [_copy(event)]) == (1, None)  # the embedded relay offering it again
    assert dump(ctx) == once, f"{service}: a repeated {event_type} changed {changed_tables(once, dump(ctx))}"
