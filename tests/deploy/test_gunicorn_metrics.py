"""/metrics under gunicorn with three workers: request counts and latency histograms add up across workers.

Without prometheus_client's multiprocess mode each scrape would show the counters of whichever
worker answered. The service runs with the production config (shared/gunicorn_conf.py and its
generated Deployment's env), PROMETHEUS_MULTIPROC_DIR on a fresh directory holding a stale file
from "a previous container", which the master must clean at start.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.processes import base_env, countyhub, start_gunicorn

REQUESTS = 90
ROUND = 30


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include these."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        sample_labels = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_three_workers_report_one_sum(tmp_path: Path, pg_url: str) -> None:
    env = base_env(tmp_path, FORMULARY_DATABASE_URL=pg_url)
    countyhub("migrate", "--service", "formulary", env=env)
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale data from a previous container")
    server = start_gunicorn("formulary", env, tmp_path, GUNICORN_WORKERS="3", GUNICORN_THREADS="2",
                            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    try:
        assert not (metrics_dir / "counter_999999.db").exists(), "the master cleans the directory at start"
        # /readyz (start_gunicorn polls /healthz, not this). Requests in rounds until at least two workers have served some (each worker writes its
        # own file): only then does a sum mean anything. Workers boot one after another.
        sent, serving = 0, set()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(40):
                statuses = list(pool.map(lambda _: server.request("GET", "/readyz")[0], range(ROUND)))
                assert statuses == [200] * ROUND
                sent += ROUND
                serving = {p.name for p in metrics_dir.glob("counter_*.db")}
                if len(serving) >= 3 and sent >= REQUESTS:
                    break
        assert len(serving) >= 2, f"only {serving} served: the test would prove nothing"
        for _ in range(8):  # whichever worker answers the scrape, the totals are the same
            status, body = server.request("GET", "/metrics")
            assert status == 200
            text = body.decode()
            assert metric_sum(text, "http_requests_total", endpoint="/readyz", status="200") == sent
            assert metric_sum(text, "http_request_duration_seconds_count", endpoint="/readyz") == sent
            buckets = metric_sum(text, "http_request_duration_seconds_bucket", endpoint="/readyz", le="+Inf")
            assert buckets == sent
    finally:
        assert server.terminate() == 0, server.log.read_text()[-2000:]
