"""The embedded default stays responsive under write load: a few thousand catalogue changes are
approved while pharmacists search, and no request fails with a 5xx (reads never wait for SQLite's
write lock; a writer that waits too long would be a 503, never a 500).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.support.hubprocess import CONSUMERS, HubProcess, csv_of

ITEMS = 2000
SEARCHES = (
    ("formulary", "/api/v1/items?q=%E6%B5%8B%E8%AF%95&limit=20"),  # 测试
    ("formulary", "/api/v1/items?q=YP3&limit=50"),
    ("dispatch", "/api/v1/reference/items?q=YP3&limit=50"),
    ("procurement", "/api/v1/reference/items?limit=100"),
)


def test_thousands_of_approvals_while_searching_never_give_a_5xx(hub_process: HubProcess) -> None:
    hub = hub_process
    hub.start()
    admin, manager = hub.token("formulary_admin", "admin-1"), hub.token("pharmacy_manager", "mgr-1")
    reader = hub.token("pharmacist", "reader-1")
    codes = [f"YP3{i:05d}" for i in range(ITEMS)]
    statuses: Counter[int] = Counter()
    during_approval = Counter[str]()
    approving = threading.Event()
    done = threading.Event()

    def search(service: str, path: str) -> None:
        while not done.is_set():
            status, _ = hub.call("GET", hub.url(service) + path, reader)
            statuses[status] += 1
            if approving.is_set():
                during_approval[service] += 1

    threads = [threading.Thread(target=search, args=pair, daemon=True) for pair in SEARCHES]
    for thread in threads:
        thread.start()
    try:
        status, report = hub.call("POST", f"{hub.url('formulary')}/api/v1/imports/items?confirm=true", admin, files=csv_of(codes))
        assert status == 200 and report["written"] == ITEMS, (status, report)
        approving.set()
        status, decided = hub.call("POST", f"{hub.url('formulary')}/api/v1/changes/approve", manager, {"batch_id": report["batch_id"]})
        approving.clear()
        assert status == 200, decided
        # The relays deliver while the searches go on; every read model gets every item.
        deadline = time.monotonic() + 240
        last = codes[-1]
        while time.monotonic() < deadline:
            if all(hub.call("GET", f"{hub.url(s)}/api/v1/reference/items/{last}", reader)[0] == 200 for s in CONSUMERS):
                break
            time.sleep(0.5)
        for service in CONSUMERS:
            assert hub.call("GET", f"{hub.url(service)}/api/v1/reference/items/{last}", reader)[0] == 200, service
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] > len(SEARCHES), statuses
    # Searches kept being answered while the approval held the write lock.
    assert during_approval["formulary"] > 0, during_approval
