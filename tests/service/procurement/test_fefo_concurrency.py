"""Many approvals at once never drive a central lot below zero (row locks on PostgreSQL; SQLite's write lock)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from services.procurement.model import commands as c
from services.procurement.model.requisition import OrderLine
from services.procurement.service import requisitions as rq
from services.procurement.store import T
from services.procurement.store.stock import central_balance_check
from shared.errors import Conflict
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import (
    AMOX,
    KEEPER_T01,
    MANAGER,
    line,
    stock_central,
    today,
)


def test_concurrent_approvals_never_oversell(service_ctx: ServiceContext) -> None:
    ctx = service_ctx
    # 3 lots, 24 × 20 = 480 units in all; 30 requisitions of 24 ask for 720.
    stock_central(ctx, line(batch="A", qty=120, expiry=today() + timedelta(days=300)),
                  line(batch="B", qty=168, expiry=today() + timedelta(days=500)),
                  line(batch="C", qty=192, expiry=today() + timedelta(days=700)))  # fmt: skip
    ids = [rq.create_requisition(ctx, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(AMOX, 24),), submit=True))["id"]
           for _ in range(30)]  # fmt: skip
    approved: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def approve(chunk: list[str]) -> None:
        for rid in chunk:
            try:
                rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(rid))
                with lock:
                    approved.append(rid)
            except Conflict:
                with lock:
                    refused.append(rid)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=approve, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(approved) == 20 and len(refused) == 10
    with ctx.factory() as session:
        balances = dict(session.execute(select(T["central_lots"].c.batch_no, T["central_lots"].c.balance)).all())
        allocated = session.execute(select(func.sum(T["allocations"].c.quantity))).scalar()
        assert balances == {"A": 0, "B": 0, "C": 0} and allocated == 480
        assert central_balance_check(session) == []
