"""The embedded default loses nothing when it is killed: SIGKILL `countyhub run` at several delays
after an approval, start it again, and every approved item reaches every read model.

The test runs the real console script as its own process with its own HUB_DATA_DIR and free
ports; each trial imports and approves 50 items over HTTP, kills the process 20–500 ms after the approval
answered, and restarts it on the same data directory.
"""

from __future__ import annotations

import time

from tests.support.hubprocess import CONSUMERS, HubProcess, csv_of

DELAYS_MS = (20, 50, 100, 200, 350, 500)


def missing_from_read_models(hub: HubProcess, token: str, codes: list[str]) -> dict[str, list[str]]:
    """Approved codes a consumer's read model does not have yet, per consumer."""
    missing: dict[str, list[str]] = {}
    for name in CONSUMERS:
        absent = [c for c in codes if hub.call("GET", f"{hub.url(name)}/api/v1/reference/items/{c}", token)[0] != 200]
        if absent:
            missing[name] = absent
    return missing


def test_nothing_approved_is_lost_when_the_hub_is_killed(hub_process: HubProcess) -> None:
    hub = hub_process
    hub.start()
    admin, manager = hub.token("formulary_admin", "admin-1"), hub.token("pharmacy_manager", "mgr-1")
    reader = hub.token("pharmacy_manager", "reader-1")
    approved: list[str] = []
    for trial, delay_ms in enumerate(DELAYS_MS):
        codes = [f"YP{trial + 1:02d}{i:04d}" for i in range(50)]
        status, report = hub.call("POST", f"{hub.url('formulary')}/api/v1/imports/items?confirm=true", admin, files=csv_of(codes))
        assert status == 200 and report["written"] == 50, report
        status, decided = hub.call("POST", f"{hub.url('formulary')}/api/v1/changes/approve", manager, {"batch_id": report["batch_id"]})
        assert status == 200, decided
        approved += codes
        time.sleep(delay_ms / 1000)
        hub.kill()
        hub.start()
        deadline = time.monotonic() + 60
        while (missing := missing_from_read_models(hub, reader, approved)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not missing, f"killed {delay_ms} ms after approving: never reached {missing}"
