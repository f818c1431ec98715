"""Formulary use cases called directly (no HTTP), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from services.formulary import imports, queries, service, store
from services.formulary.codes import uscc_check_char
from services.formulary.commands import (
    ApproveChanges,
    ProposeItem,
    ProposeItemEdit,
    ProposeRetire,
    ProposeSite,
    ProposeStocklist,
    RejectChange,
    Why,
)
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import seed_county
from shared.auth import Principal
from shared.db import read_only
from shared.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed
from shared.runtime import ServiceContext
from tests.support.formulary import sample_item

ADMIN = Principal("admin1", ("formulary_admin",))
MANAGER = Principal("mgr1", ("pharmacy_manager",))
MANAGER2 = Principal("mgr2", ("pharmacy_manager",))


def _fields(code: str = "YP900001", **overrides: Any) -> dict[str, Any]:
    body = sample_item(code, **overrides)
    body.pop("code")
    return body


def _approve(ctx: ServiceContext, *ids: str, by: Principal = MANAGER) -> int:
    return service.approve(ctx, by, ApproveChanges(tuple(ids))).catalogue_version


def _item(ctx: ServiceContext, code: str = "YP900001") -> dict[str, Any]:
    with read_only(ctx.factory) as session:
        found = store.item_row(session, code)
    assert found is not None
    return found


def test_propose_approve_publish_and_history(service_ctx: ServiceContext) -> None:
    view = service.propose(
        service_ctx, ADMIN, ProposeItem("YP900001", _fields(), Why(reason="新增品种", meeting_ref="M1"))
    )
    assert view.change.base_version == 0 and view.change.reason == "新增品种"
    assert _approve(service_ctx, view.change.id) == 1
    with read_only(service_ctx.factory) as session:
        history = queries.item_history(session, "YP900001")
        outbox = session.execute(select(service_ctx.metadata.tables["outbox"])).all()
    assert (
        history[0]["proposed_by"] == "admin1"
        and history[0]["approved_by"] == "mgr1"
        and history[0]["meeting_ref"] == "M1"
    )
    assert len(outbox) == 1


def test_approval_locks_and_refuses_a_stale_draft_on_both_backends(service_ctx: ServiceContext) -> None:
    created = service.propose(service_ctx, ADMIN, ProposeItem("YP900001", _fields()))
    _approve(service_ctx, created.change.id)
    a = service.propose(service_ctx, ADMIN, ProposeItemEdit("YP900001", {"strength": "1g"}, base_version=1))
    b = service.propose(service_ctx, ADMIN, ProposeItemEdit("YP900001", {"unit": "片"}, base_version=1))
    with pytest.raises(Conflict) as stale:
        _approve(service_ctx, a.change.id, b.change.id)
    assert "strength" in stale.value.detail and _item(service_ctx)["strength"] == "0.25g"  # all or nothing
    _approve(service_ctx, a.change.id)
    with pytest.raises(PreconditionFailed):
        service.propose(service_ctx, ADMIN, ProposeItemEdit("YP900001", {"unit": "片"}, base_version=1))


def test_two_people_are_needed(service_ctx: ServiceContext) -> None:
    view = service.propose(service_ctx, MANAGER, ProposeItem("YP900001", _fields()))
    with pytest.raises(Forbidden):
        _approve(service_ctx, view.change.id, by=MANAGER)
    _approve(service_ctx, view.change.id, by=MANAGER2)


def test_update_keeps_only_changed_fields_and_flags_pack_size(service_ctx: ServiceContext) -> None:
    _approve(service_ctx, service.propose(service_ctx, ADMIN, ProposeItem("YP900001", _fields())).change.id)
    view = service.propose(
        service_ctx, ADMIN, ProposeItemEdit("YP900001", {"package_size": 48, "unit": "粒"})
    )
    assert view.change.payload == {"package_size": 48}
    assert [f.flag for f in view.change.flags] == ["pack_size_without_volume"]
    with pytest.raises(InvalidInput):
        service.propose(service_ctx, ADMIN, ProposeItemEdit("YP900001", {"unit": "粒"}))


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _site(code: str, level: str, parent: str | None, n: int) -> dict[str, Any]:
    return {"name": f"测试{code}", "tax_id": _uscc(f"12371723MB{n:07d}"), "level": level, "parent_code": parent,
            "lat": 35.0, "lon": 115.9, "receiving_hours": [{"start": "08:00", "end": "17:00"}]}  # fmt: skip


def test_structure_stays_consistent(service_ctx: ServiceContext) -> None:
    ids = service.propose_many(service_ctx, ADMIN, [
        ProposeSite("H1", _site("H1", "county_hospital", None, 1)),
        ProposeSite("T1", _site("T1", "township", "H1", 2)),
        ProposeSite("T2", _site("T2", "township", "H1", 3)),
        ProposeSite("V1", _site("V1", "village", "T1", 4)),
    ])  # fmt: skip
    _approve(service_ctx, *ids)
    with pytest.raises(InvalidInput) as refused:
        service.propose(service_ctx, ADMIN, ProposeSite("T1", _site("T1", "village", "T2", 2)))
    assert "V1" in refused.value.fields["level"]
    with pytest.raises(InvalidInput):
        service.propose(service_ctx, ADMIN, ProposeStocklist("site", "NOPE", ()))
    # A draft whose parent was re-levelled before approval is refused at approval.
    village = service.propose(service_ctx, ADMIN, ProposeSite("V2", _site("V2", "village", "T2", 5)))
    move = service.propose(service_ctx, ADMIN, ProposeSite("T2", _site("T2", "county_hospital", None, 3)))
    _approve(service_ctx, move.change.id)
    with pytest.raises(Conflict):
        _approve(service_ctx, village.change.id)


def test_category_lists_follow_the_catalogue(service_ctx: ServiceContext) -> None:
    ids = [service.propose(service_ctx, ADMIN, ProposeItem(c, _fields(c, essential=e, approval_no=None, strength=s))).change.id
           for c, e, s in (("YP1A", True, "1g"), ("YP1B", False, "2g"))]  # fmt: skip
    _approve(service_ctx, *ids)
    view = service.propose(
        service_ctx, ADMIN, ProposeStocklist("level", "village", (), ("essential", "atc:J01"))
    )
    _approve(service_ctx, view.change.id)
    with read_only(service_ctx.factory) as session:
        assert queries.stocklist_members(session, "level:village") == ["YP1A", "YP1B"]  # both J01
    retire = service.propose(service_ctx, ADMIN, ProposeRetire("YP1B", "停产"))
    _approve(service_ctx, retire.change.id)
    with read_only(service_ctx.factory) as session:
        assert queries.stocklist_members(session, "level:village") == ["YP1A"]
        events = session.execute(select(service_ctx.metadata.tables["outbox"].c.event_type)).scalars().all()
    assert (
        events.count("formulary.stocklist.changed") == 2
    )  # republished when the retirement moved its members


def test_import_check_writes_nothing_and_confirm_writes_one_batch(service_ctx: ServiceContext) -> None:
    given = {**_fields("YP930001"), "code": "YP930001"}
    parsed = imports.ParsedFile((imports.ParsedRow(2, "YP930001", given),), "UTF-8", None, 1, tuple(given))
    checked = imports.import_items(service_ctx, ADMIN, parsed, confirm=False, valid_only=False, why=Why())
    assert checked.written == 0 and checked.rows[0]["status"] == "ok"
    with read_only(service_ctx.factory) as session:
        assert session.execute(select(store.changes)).first() is None
    confirmed = imports.import_items(
        service_ctx, ADMIN, parsed, confirm=True, valid_only=False, why=Why(meeting_ref="M2")
    )
    assert confirmed.written == 1 and confirmed.batch_id
    approved = service.approve(service_ctx, MANAGER, ApproveChanges(batch_id=confirmed.batch_id))
    assert approved.approved == 1


def test_reject_and_duplicate_ids(service_ctx: ServiceContext) -> None:
    view = service.propose(service_ctx, ADMIN, ProposeItem("YP900001", _fields()))
    with pytest.raises(InvalidInput):
        service.approve(service_ctx, MANAGER, ApproveChanges((view.change.id, view.change.id)))
    rejected = service.reject(service_ctx, MANAGER, RejectChange(view.change.id, "重复品规"))
    assert rejected.change.status.value == "rejected"
    with pytest.raises(Conflict):
        _approve(service_ctx, view.change.id)


def test_the_seed_goes_through_two_people(service_ctx: ServiceContext) -> None:
    seeded = seed_county(service_ctx, generate_county("chengwu", seed=2026))
    assert seeded["catalogue_version"] == 1 and seeded["items"] > 300
    with read_only(service_ctx.factory) as session:
        found, _ = queries.search_items(session, q="amxl", limit=5)
    assert found and found[0]["generic_name"].startswith("阿莫西林")


def test_lists_page_and_batches_total_on_both_backends(service_ctx: ServiceContext) -> None:
    given = [{**_fields(f"YP93{i:04d}", approval_no=None), "code": f"YP93{i:04d}"} for i in range(5)]
    rows = tuple(imports.ParsedRow(i + 2, g["code"], g) for i, g in enumerate(given))
    parsed = imports.ParsedFile(rows, "UTF-8", None, 1, tuple(given[0]))
    report = imports.import_items(
        service_ctx, ADMIN, parsed, confirm=True, valid_only=False, why=Why(reason="新目录")
    )
    with read_only(service_ctx.factory) as session:
        [batch] = queries.batches(session)
    assert (batch["total"], batch["creates"], batch["updates"], batch["flagged"]) == (5, 5, 0, 4)
    seen: list[str] = []
    cursor = None
    while True:
        views, cursor = service.list_changes(
            service_ctx, "draft", batch_id=report.batch_id, cursor=cursor, limit=2
        )
        seen += [v.change.target for v in views]
        if cursor is None:
            break
    assert seen == [g["code"] for g in given]
    with read_only(service_ctx.factory) as session:
        found, nxt = queries.search_items(session, q="amxl", limit=10)
    assert found == [] and nxt is None  # drafts are not the catalogue


def _race(*calls: Any) -> list[Any]:
    """Run the calls at the same moment in threads; each result or the exception it raised."""
    import threading

    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Any) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_approvals_lose_nothing_and_never_fail_unexpectedly(service_ctx: ServiceContext) -> None:
    ids = [service.propose(service_ctx, ADMIN, ProposeItem(c, _fields(c, approval_no=None, strength=s))).change.id
           for c, s in (("YP1A", "1g"), ("YP1B", "2g"))]  # fmt: skip
    _approve(service_ctx, *ids)
    for _round in range(3):
        same_a = service.propose(
            service_ctx, ADMIN, ProposeItemEdit("YP1A", {"unit": f"片{_round}"})
        ).change.id
        same_b = service.propose(
            service_ctx, ADMIN, ProposeItemEdit("YP1A", {"package_unit": f"瓶{_round}"})
        ).change.id
        results = _race(
            lambda a=same_a: _approve(service_ctx, a), lambda b=same_b: _approve(service_ctx, b, by=MANAGER2)
        )
        assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"], (
            results
        )  # one wins, one is stale
        other_a = service.propose(
            service_ctx, ADMIN, ProposeItemEdit("YP1A", {"strength": f"{_round}0g"})
        ).change.id
        other_b = service.propose(
            service_ctx, ADMIN, ProposeItemEdit("YP1B", {"strength": f"{_round}5g"})
        ).change.id
        results = _race(
            lambda a=other_a: _approve(service_ctx, a),
            lambda b=other_b: _approve(service_ctx, b, by=MANAGER2),
        )
        assert all(isinstance(r, int) for r in results) and results[0] != results[1], results
        assert (
            _item(service_ctx, "YP1A")["strength"] == f"{_round}0g"
            and _item(service_ctx, "YP1B")["strength"] == f"{_round}5g"
        )


def test_a_site_with_active_children_cannot_be_deactivated_on_any_path(service_ctx: ServiceContext) -> None:
    ids = service.propose_many(service_ctx, ADMIN, [
        ProposeSite("H1", _site("H1", "county_hospital", None, 1)),
        ProposeSite("T1", _site("T1", "township", "H1", 2)),
        ProposeSite("V1", _site("V1", "village", "T1", 4)),
        ProposeSite("V2", _site("V2", "village", "T1", 5)),
    ])  # fmt: skip
    _approve(service_ctx, *ids)
    # Proposal time: refused, the active children named.
    with pytest.raises(InvalidInput) as refused:
        service.propose(
            service_ctx, ADMIN, ProposeSite("T1", {**_site("T1", "township", "H1", 2), "active": False})
        )
    assert "V1" in refused.value.fields["active"] and "V2" in refused.value.fields["active"]
    # Approval time: the township's closure was proposed once its clinics were closed, then a clinic was reopened.
    closes = [service.propose(service_ctx, ADMIN, ProposeSite(v, {**_site(v, "village", "T1", n), "active": False})).change.id
              for v, n in (("V1", 4), ("V2", 5))]  # fmt: skip
    _approve(service_ctx, *closes)
    close_t1 = service.propose(
        service_ctx, ADMIN, ProposeSite("T1", {**_site("T1", "township", "H1", 2), "active": False})
    )
    new_village = service.propose(service_ctx, ADMIN, ProposeSite("V3", _site("V3", "village", "T1", 6)))
    _approve(service_ctx, new_village.change.id)
    with pytest.raises(Conflict) as stale:
        _approve(service_ctx, close_t1.change.id)
    assert "V3" in stale.value.detail
    # An active site may not be placed (or reopened) under an inactive parent, at proposal or at approval.
    close_v3 = service.propose(
        service_ctx, ADMIN, ProposeSite("V3", {**_site("V3", "village", "T1", 6), "active": False})
    )
    _approve(service_ctx, close_v3.change.id)
    reopen = service.propose(
        service_ctx, ADMIN, ProposeSite("V1", {**_site("V1", "village", "T1", 4), "active": True})
    )
    close_t1 = service.propose(
        service_ctx, ADMIN, ProposeSite("T1", {**_site("T1", "township", "H1", 2), "active": False})
    )
    _approve(service_ctx, close_t1.change.id)
    with pytest.raises(Conflict):
        _approve(service_ctx, reopen.change.id)
    with pytest.raises(InvalidInput) as under_closed:
        service.propose(service_ctx, ADMIN, ProposeSite("V4", _site("V4", "village", "T1", 7)))
    assert "parent_code" in under_closed.value.fields
    with read_only(service_ctx.factory) as session:
        assert (
            store.active_child_codes(session, "T1") == [] and store.site_row(session, "T1")["active"] is False
        )  # type: ignore[index]


def test_a_batch_approves_in_bulk_with_history_events_and_search_keys(service_ctx: ServiceContext) -> None:
    given = [{**_fields(f"YP94{i:04d}", approval_no=None, strength=f"{i}mg"), "code": f"YP94{i:04d}"} for i in range(30)]
    parsed = imports.ParsedFile(tuple(imports.ParsedRow(i + 2, g["code"], g) for i, g in enumerate(given)), "UTF-8", None, 1, tuple(given[0]))
    created = imports.import_items(service_ctx, ADMIN, parsed, confirm=True, valid_only=False, why=Why(reason="新增"))
    assert service.approve(service_ctx, MANAGER, ApproveChanges(batch_id=created.batch_id)).approved == 30
    # One batch: a rename (search keys rebuilt), a pack-size change (keys kept), a retirement and a list naming them.
    ids = [
        service.propose(service_ctx, ADMIN, ProposeItemEdit("YP940000", {"generic_name": "参松养心胶囊"})).change.id,
        service.propose(service_ctx, ADMIN, ProposeItemEdit("YP940001", {"package_size": 48, "volume_cm3": 120})).change.id,
        service.propose(service_ctx, ADMIN, ProposeRetire("YP940002", "停产")).change.id,
        service.propose(service_ctx, ADMIN, ProposeStocklist("level", "village", ("YP940000", "YP940001"))).change.id,
    ]
    stale = service.propose(service_ctx, ADMIN, ProposeItemEdit("YP940003", {"unit": "片"}))
    _approve(service_ctx, service.propose(service_ctx, ADMIN, ProposeItemEdit("YP940003", {"strength": "9g"})).change.id)
    with pytest.raises(Conflict) as refused:  # a stale draft among others: the whole approval is refused, naming what moved
        _approve(service_ctx, *ids, stale.change.id)
    assert "strength" in refused.value.detail
    assert _item(service_ctx, "YP940000")["generic_name"] != "参松养心胶囊"
    _approve(service_ctx, *ids)
    with read_only(service_ctx.factory) as session:
        found, _ = queries.search_items(session, q="ssyxjn", limit=5)
        assert [f["code"] for f in found] == ["YP940000"]
        found, _ = queries.search_items(session, q="YP940001", limit=5)
        assert found[0]["package_size"] == 48
        assert _item(service_ctx, "YP940002")["status"] == "retired"
        history = queries.item_history(session, "YP940001")
        assert [h["version"] for h in history] == [2, 1] or [h["version"] for h in history] == [1, 2]
        outbox = service_ctx.metadata.tables["outbox"]
        types = session.execute(select(outbox.c.event_type)).scalars().all()
    assert types.count("formulary.item.published") == 30 + 1 + 2 and types.count("formulary.item.retired") == 1
    assert types.count("formulary.stocklist.changed") == 1


def test_ids_in_urls_that_no_database_can_hold_are_refused_on_both_backends(service_ctx: ServiceContext) -> None:
    from services.formulary.app import SPEC
    from tests.support.web import bearer

    client = SPEC.create_app(service_ctx).test_client()
    for path in ("/api/v1/changes/ab%00c", "/api/v1/items/YP%00/history", "/api/v1/sites/A%00B", "/api/v1/stocklists/site/A%00B"):
        answer = client.get(path, headers=bearer("pharmacy_manager"))  # NUL in a path: 422 naming it
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", (path, answer.status_code)
        assert answer.get_json()["errors"], answer.get_json()
    refused = client.post("/api/v1/changes/ab%00c/reject", json={"reason": "重复品规"}, headers=bearer("pharmacy_manager"))
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    import base64
    import json

    for path, key in (("/api/v1/items", [0, 0, "HC\u0000"]), ("/api/v1/sites", ["CW\u0000"]), ("/api/v1/changes", ["x\u0000", 0, "y"]),
                      ("/api/v1/versions", [10**30]), ("/api/v1/changes", ["x", 2**63, "y"]),
                      ("/api/v1/versions", [1]), ("/api/v1/items", [0, 0, "\ud800"])):  # fmt: skip
        cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
        answer = client.get(path, query_string={"cursor": cursor}, headers=bearer("pharmacy_manager"))
        assert answer.status_code in (200, 400), (path, key, answer.status_code)


def test_category_selectors_are_normalised_like_codes(service_ctx: ServiceContext) -> None:
    view = service.propose(service_ctx, ADMIN, ProposeStocklist("level", "township", (), ("ESSENTIAL", "atc:j01c", "Kind:Drug", "category:抗微生物药")))
    assert view.change.payload["categories"] == ["essential", "atc:J01C", "kind:drug", "category:抗微生物药"]
