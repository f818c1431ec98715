"""Formulary benchmark: approving one import batch (creates, then updates of every item) as one request's work.

    python -m bench.formulary_approval [--rows 5000] [--pg]

Issue 7 §8 / follow-up: a 20,000-row import is proposed and approved as one batch, within one
gunicorn request. Times `service.approve(batch_id=...)` on a fresh database (SQLite in a temp dir,
or the real PostgreSQL with --pg) and prints rows per second; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from services.formulary import imports, service
from services.formulary.app import SPEC
from services.formulary.commands import ApproveChanges, Why
from shared.auth import Principal
from shared.config import Settings
from shared.migrate import upgrade
from shared.runtime import build_context

ADMIN = Principal("bench-admin", ("formulary_admin",))
MANAGER = Principal("bench-mgr", ("pharmacy_manager",))


def _row(i: int, package_size: int) -> dict[str, Any]:
    return {
        "code": f"YP{i:08d}", "kind": "drug", "generic_name": f"测试药品{i}", "dosage_form": "片剂", "strength": f"{i % 97 + 1}mg",
        "unit": "片", "package_size": package_size, "package_unit": "盒", "manufacturer": f"测试制药{i % 50}有限公司",
        "essential": i % 3 == 0, "volume_cm3": 40.0 + package_size, "weight_g": 20.0 + package_size, "category": "测试",
    }  # fmt: skip


def _batch(ctx: Any, rows: int, package_size: int) -> str:
    parsed = imports.ParsedFile(
        tuple(imports.ParsedRow(i + 2, r["code"], r) for i, r in enumerate(_row(n, package_size) for n in range(rows))),
        "UTF-8", None, 1, tuple(_row(0, 1)),
    )  # fmt: skip
    report = imports.import_items(ctx, ADMIN, parsed, confirm=True, valid_only=False, why=Why(reason="bench"))
    assert report.batch_id and report.written == rows, report.rows[:3]
    return report.batch_id


def run(rows: int, database_url: str) -> None:
    """Import `rows` new items, approve; import a pack-size change of every one, approve; print the times."""
    settings = Settings("formulary", database_url, "memory://", "bench-secret-of-at-least-thirty-two-b", 0)
    ctx = build_context(SPEC, settings)
    upgrade(SPEC.migrations, ctx.engine)
    for label, size in (("create", 10), ("update", 20)):
        started = time.perf_counter()
        batch = _batch(ctx, rows, size)
        proposed = time.perf_counter() - started
        started = time.perf_counter()
        approved = service.approve(ctx, MANAGER, ApproveChanges(batch_id=batch, meeting_ref="bench"))
        took = time.perf_counter() - started
        print(f"{label:6s} rows={rows:6d} import(check+confirm)={proposed:7.2f}s approve={took:7.2f}s "
              f"({approved.approved / took:8.0f} rows/s)", flush=True)  # fmt: skip
    ctx.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--pg", action="store_true", help="the real PostgreSQL on 127.0.0.1:5432 (a random database)")
    args = parser.parse_args()
    if not args.pg:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite ({tmp})")
            run(args.rows, f"sqlite:///{tmp}/formulary.sqlite3")
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        print(f"PostgreSQL ({name})")
        run(args.rows, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
