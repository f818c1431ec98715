"""Pure parts of the bus: envelope, contracts, topology matching, back-off."""

from __future__ import annotations

import json

import pytest

from shared.bus.consumer import backoff_seconds
from shared.bus.topology import TOPOLOGY, ServiceQueues, binding_matches, build_topology, consumers_of
from shared.events.contracts import CONTRACTS, ContractError, validate_payload
from shared.events.envelope import CloudEvent, EnvelopeError, new_event


def test_envelope_round_trip_keeps_every_attribute() -> None:
    event = new_event(
        "formulary.item.retired",
        {"code": "YP1", "version": 2, "catalogue_version": 3, "reason": "停产"},
        source="/countyhub/formulary",
        subject="YP1",
        correlation_id="abc",
    )
    raw = json.loads(event.to_json())
    assert raw["specversion"] == "1.0" and raw["time"].endswith("Z") and raw["data"]["reason"] == "停产"
    again = CloudEvent.from_dict(raw)
    assert again == event


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1,2]", json.dumps({"specversion": "0.3", "id": "1", "source": "/x", "type": "t", "time": "2026-01-01T00:00:00Z", "data": {}}).encode(),
     json.dumps({"specversion": "1.0", "id": "1", "source": "/x", "type": "t", "time": "yesterday", "data": {}}).encode()],
)
def test_invalid_envelopes_are_refused(raw: bytes) -> None:
    with pytest.raises(EnvelopeError):
        CloudEvent.from_dict(raw)


def test_contracts_refuse_missing_extra_and_mistyped_fields() -> None:
    good = {"code": "YP1", "version": 1, "catalogue_version": 1, "reason": None}
    assert validate_payload("formulary.item.retired", good) == good
    for bad in ({"code": "YP1"}, {**good, "colour": "red"}, {**good, "version": "one"}):
        with pytest.raises(ContractError):
            validate_payload("formulary.item.retired", bad)
    with pytest.raises(ContractError):
        validate_payload("formulary.item.eaten", good)


def test_topic_matching() -> None:
    assert binding_matches("formulary.#", "formulary.item.published")
    assert binding_matches("formulary.#", "formulary")
    assert binding_matches("*.item.*", "formulary.item.retired")
    assert not binding_matches("*.item", "formulary.item.retired")
    assert not binding_matches("dispatch.stop.completed", "dispatch.plan.published")


def test_queue_bindings_are_exactly_each_services_handler_keys() -> None:
    from hub.registry import specs

    handled = {spec.name: set(spec.handlers) for spec in specs() if spec.handlers}
    assert {name: set(q.bindings) for name, q in TOPOLOGY.items()} == handled
    for spec in specs():
        for event_type in spec.handlers:
            assert event_type in CONTRACTS, f"{spec.name} handles {event_type}, which has no contract"
            assert spec.name in consumers_of(event_type)
    assert set(consumers_of("formulary.site.upserted")) == {"procurement", "prescription_review", "dispatch"}
    assert consumers_of("formulary.item.eaten") == []
    assert all(spec.queue.endswith(".events") for spec in TOPOLOGY.values())


def test_build_topology_sorts_dedupes_and_leaves_out_services_that_handle_nothing() -> None:
    built = build_topology([("a", ["x.b", "x.a", "x.b"]), ("b", []), ("c", ["x.a"])])
    assert built == {"a": ServiceQueues("a", ("x.a", "x.b")), "c": ServiceQueues("c", ("x.a",))}
    assert consumers_of("x.a", built) == ["a", "c"] and consumers_of("x.b", built) == ["a"]


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_seconds(n, 0.5) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_seconds(30) == 60.0
