"""A change approved in the formulary reaches procurement, prescription_review and dispatch over real RabbitMQ.

Each service gets its own PostgreSQL database, migrated with its Alembic revisions, and runs its
real outbox relay and consumer threads against the test vhost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from hub.registry import SERVICES, spec
from services.formulary import service as formulary
from services.formulary.codes import uscc_check_char
from services.formulary.commands import (
    ApproveChanges,
    ProposeItem,
    ProposeItemEdit,
    ProposeRetire,
    ProposeSite,
    ProposeStocklist,
)
from shared.auth import Principal
from shared.config import Settings
from shared.migrate import upgrade
from shared.runtime import Background, ServiceContext, build_context
from shared.search import ReferenceIndex
from tests.support.bus import PG_ADMIN_URL, Broker, wait_until

MANAGER = Principal("mgr", ("pharmacy_manager",))
APPROVER = Principal("mgr2", ("pharmacy_manager",))  # the proposer may not approve their own change


@pytest.fixture
def hub_on_postgres(broker: Broker) -> Iterator[dict[str, ServiceContext]]:
    """Four services, four fresh PostgreSQL databases, one RabbitMQ vhost, relays and consumers running."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = {s: f"countyhub_it_{s[:6]}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
    contexts: dict[str, ServiceContext] = {}
    backgrounds: list[Background] = []
    try:
        with admin.connect() as conn:
            for db in names.values():
                conn.execute(text(f'CREATE DATABASE "{db}"'))
        for name in SERVICES:
            settings = Settings(
                service=name,
                database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{names[name]}",
                broker_url=broker.url,
                jwt_secret="integration-secret-of-thirty-two-bytes!",
                port=0,
                embedded=False,
            )
            ctx = build_context(spec(name), settings)
            upgrade(spec(name).migrations, ctx.engine)
            contexts[name] = ctx
        for name, ctx in contexts.items():
            backgrounds.append(Background(spec(name), ctx).start(workers=False))
        yield contexts
    finally:
        for background in backgrounds:
            background.shutdown()
        for ctx in contexts.values():
            ctx.engine.dispose()
        with admin.connect() as conn:
            for db in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def _item(code: str) -> dict[str, Any]:
    return {
        "code": code, "kind": "drug", "generic_name": "硝苯地平", "generic_name_en": "Nifedipine",
        "trade_name": None, "dosage_form": "缓释片", "strength": "20mg", "unit": "片", "package_size": 30,
        "package_unit": "盒", "manufacturer": "石药集团", "approval_no": "国药准字H10970063",
        "nhsa_code": None, "atc_code": "C08CA05", "essential": True, "reimbursement": "甲", "vbp": False,
        "vbp_batch": None, "storage": "ambient", "controlled": "none", "antibiotic_tier": "none",
        "high_alert": False, "volume_cm3": 50.0, "weight_g": 25.0, "category": "心血管系统用药",
    }  # fmt: skip


def _site() -> dict[str, Any]:
    first17 = "12371723MB0000001"
    return {
        "code": "CW-H01", "name": "成武县人民医院", "tax_id": first17 + uscc_check_char(first17),
        "level": "county_hospital", "parent_code": None, "is_hub": True, "lat": 34.95, "lon": 115.89,
        "receiving_hours": [{"start": "07:30", "end": "18:00"}], "active": True,
    }  # fmt: skip


def test_an_approved_change_reaches_all_three_read_models(hub_on_postgres: dict[str, ServiceContext]) -> None:
    formulary_ctx = hub_on_postgres["formulary"]
    ids = formulary.propose_many(
        formulary_ctx,
        MANAGER,
        [
            ProposeItem("YP100001", {k: v for k, v in _item("YP100001").items() if k != "code"}),
            ProposeSite("CW-H01", _site()),
        ],
    )
    formulary.approve(formulary_ctx, APPROVER, ApproveChanges(tuple(ids)))
    stock = formulary.propose(formulary_ctx, MANAGER, ProposeStocklist("level", "village", ("YP100001",)))
    formulary.approve(formulary_ctx, APPROVER, ApproveChanges((stock.change.id,)))

    for name in ("procurement", "prescription_review", "dispatch"):
        ctx = hub_on_postgres[name]
        tables = ctx.metadata.tables

        def learned(ctx: ServiceContext = ctx, tables: Any = tables) -> bool:
            with ctx.factory() as session:
                item = session.execute(select(tables["ref_items"]).where(tables["ref_items"].c.code == "YP100001")).first()
                site = session.execute(select(tables["ref_sites"]).where(tables["ref_sites"].c.code == "CW-H01")).first()
                stock = session.execute(select(tables["ref_stocklists"])).first()
                return bool(item and site and stock)

        wait_until(learned, timeout=30, what=f"{name} to learn the approved changes")
        with ctx.factory() as session:  # every service's item search is the formulary's (shared/search.py)
            for q in ("xbdp", "ＸＢＤＰ", "硝苯地平 缓释片", "yp100001"):
                found, _ = ReferenceIndex().search(session, tables["ref_items"], q, limit=5, cursor=None)
                assert [i["code"] for i in found] == ["YP100001"], (name, q)

    # An edit and a retirement travel the same way, and the versions only move forward.
    edit = formulary.propose(formulary_ctx, MANAGER, ProposeItemEdit("YP100001", {"strength": "30mg"}, base_version=1))
    formulary.approve(formulary_ctx, APPROVER, ApproveChanges((edit.change.id,)))
    retire = formulary.propose(formulary_ctx, MANAGER, ProposeRetire("YP100001", "停产"))
    formulary.approve(formulary_ctx, APPROVER, ApproveChanges((retire.change.id,)))
    for name in ("procurement", "prescription_review", "dispatch"):
        ctx = hub_on_postgres[name]
        items = ctx.metadata.tables["ref_items"]

        def retired(ctx: ServiceContext = ctx, items: Any = items) -> bool:
            with ctx.factory() as session:
                row = session.execute(select(items).where(items.c.code == "YP100001")).first()
                return bool(row and row.status == "retired" and row.version == 3 and row.snapshot["strength"] == "30mg")

        wait_until(retired, timeout=30, what=f"{name} to see the retirement")
    with formulary_ctx.factory() as session:
        outbox = formulary_ctx.metadata.tables["outbox"]
        assert session.execute(select(outbox).where(outbox.c.sent_at.is_(None))).first() is None
