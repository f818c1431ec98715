"""The read model's item search (shared.search.ReferenceIndex) stays quick while the relay writes:
a change to one item recomputes that item's search keys only, not every item's (pinyin readings
of 10,000 names took seconds, so every search during a big approval waited that long)."""

from __future__ import annotations

from typing import Any

import pytest

import shared.search as search
from shared.db import new_metadata, read_only, unit_of_work
from shared.migrate import add_common_tables
from shared.reference_store import upsert_versioned
from shared.runtime import ServiceContext
from tests.support.backends import Backend
from tests.support.formulary import sample_item


def _publish(ctx: ServiceContext, code: str, version: int, name: str) -> None:
    item = {**sample_item(code, generic_name=name), "version": version, "catalogue_version": version, "status": "active"}
    values = {k: item[k] for k in ("status", "kind", "generic_name", "storage", "unit", "package_size")}
    with unit_of_work(ctx.factory) as session:
        upsert_versioned(session, ctx.metadata.tables["ref_items"], code, version, {
            **values, "volume_cm3": 1.0, "weight_g": 1.0, "snapshot": item, "updated_at": search_now()})  # fmt: skip


def search_now() -> Any:
    from shared.clock import utcnow

    return utcnow()


def test_a_changed_item_recomputes_its_own_keys_only(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = backend.tables("reference", add_common_tables(new_metadata()))
    for i in range(30):
        _publish(ctx, f"YP{i:04d}", 1, f"阿莫西林{i}")
    index = search.ReferenceIndex()
    items = ctx.metadata.tables["ref_items"]

    def find(q: str) -> list[str]:
        with read_only(ctx.factory) as session:
            found, _ = index.search(session, items, q, limit=50, cursor=None)
        return [s["code"] for s in found]

    assert len(find("阿莫西林")) == 30
    counted: list[str] = []
    keys = search.item_keys

    def counting(snapshot: dict[str, Any]) -> Any:
        counted.append(snapshot["code"])
        return keys(snapshot)

    monkeypatch.setattr(search, "item_keys", counting)
    _publish(ctx, "YP0007", 2, "头孢克肟")
    _publish(ctx, "YP9999", 1, "布洛芬")
    assert find("头孢") == ["YP0007"] and find("布洛芬") == ["YP9999"] and len(find("阿莫西林")) == 29
    assert sorted(counted) == ["YP0007", "YP9999"]  # the 29 unchanged items kept their keys
