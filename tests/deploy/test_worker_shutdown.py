"""SIGTERM to the solver worker mid-solve hands the plan back to the queue at once.

`countyhub worker --service dispatch` as its Deployment runs it, on the real PostgreSQL: a day
plan with a 60 s time limit is being solved when the pod is stopped; the process must exit 0
within its grace period and the plan must be `queued` again (not left `solving` until its
heartbeat goes stale 120 s later), so the next worker starts it straight away.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from hub.registry import spec
from services.dispatch import service
from services.dispatch.commands import PlanDay
from shared.migrate import upgrade
from shared.runtime import build_context
from tests.service.dispatch.dispatch_support import DISPATCHER, load_county, next_monday
from tests.support.processes import BIN, ROOT, base_env, manifest_env
from tests.support.waiting import wait_until
from tests.support.web import make_settings

pytestmark = pytest.mark.integration


def test_sigterm_hands_the_plan_back(pg_url: str, tmp_path: Path) -> None:
    dispatch = spec("dispatch")
    ctx = build_context(dispatch, make_settings("dispatch", pg_url, embedded=False))
    upgrade(dispatch.migrations, ctx.engine)
    load_county(ctx)
    plan = service.queue_plan(ctx, DISPATCHER, PlanDay(next_monday(), 60, 1))
    grace = manifest_env("dispatch", "worker")["SHUTDOWN_GRACE_S"]
    env = base_env(tmp_path, DISPATCH_DATABASE_URL=pg_url, HEARTBEAT_FILE=str(tmp_path / "worker.hb"),
                   SHUTDOWN_GRACE_S=grace)

    def status() -> str:
        return str(service.get_plan(ctx, plan["id"])["status"])

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(BIN / "countyhub"), "worker", "--service", "dispatch"], cwd=ROOT, env=env,
                                stdout=(tmp_path / "worker.log").open("ab"), stderr=subprocess.STDOUT)

    worker = start()
    try:
        wait_until(lambda: status() == "solving", timeout=60, what="the worker to claim the plan")
        time.sleep(2)  # mid-solve
        began = time.monotonic()
        worker.send_signal(15)
        assert worker.wait(float(grace) + 5) == 0, (tmp_path / "worker.log").read_text()[-3000:]
        assert time.monotonic() - began < float(grace)
        assert status() == "queued", "the plan goes back to the queue, not left solving for 120 s"
        worker = start()  # the next worker takes it at once
        wait_until(lambda: status() == "solving", timeout=60, what="the next worker to claim the plan")
    finally:
        if worker.poll() is None:
            worker.send_signal(15)
            worker.wait(60)
        ctx.engine.dispose()
