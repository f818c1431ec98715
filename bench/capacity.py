"""Capacity figures for deploy/k8s/README.md: requests/s per API pod, events/s per relay and consumer.

    python -m bench.capacity [--seconds 8] [--clients 16]

One "pod" as production runs it: the formulary API under gunicorn with shared/gunicorn_conf.py and
its generated Deployment's settings (2 workers x 4 threads), on the real PostgreSQL (a random
database) and RabbitMQ (a random vhost); `countyhub relay` and `countyhub consume` as processes.
The load generator runs on the same 2-core machine (shared with other work), so every figure is a
lower bound for a pod with its own cores. Printed beside each: the same gunicorn's /healthz rate
(no database) as the in-run ceiling the API figures are a fraction of.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from statistics import quantiles
from typing import Any

from sqlalchemy import create_engine, text

from tests.support.bus import Broker, create_database, drop_database, rabbitmqctl
from tests.support.formulary import sample_item
from tests.support.processes import BIN, ROOT, base_env, countyhub, start_gunicorn


def load(server: Any, method: str, path: str, body: Any, headers: dict[str, str], seconds: float,
         clients: int, make_body: Any = None) -> dict[str, float]:
    """Requests/s and latency percentiles of `clients` closed-loop clients for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            started = time.perf_counter()
            try:
                status, _ = server.request(method, path, make_body(n, i) if make_body else body, headers)
                ok = 200 <= status < 300
            except OSError:
                ok = False
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    cuts = quantiles(latencies, n=100) if len(latencies) > 2 else [0.0] * 99
    return {"rps": len(latencies) / took, "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000,
            "errors": float(errors[0]), "n": float(len(latencies))}


def scalar(url: str, sql: str) -> int:
    """One number from a database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def drain(proc_args: list[str], env: dict[str, str], log: Path, done: Any, timeout: float = 600) -> float:
    """Seconds a countyhub process takes from its first unit of work until done() holds."""
    proc = subprocess.Popen([str(BIN / "countyhub"), *proc_args], cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        first = None
        while time.monotonic() < deadline:
            state = done()
            if state is True:
                return time.monotonic() - (first or time.monotonic())
            if state == "started" and first is None:
                first = time.monotonic()
            time.sleep(0.05)
        raise TimeoutError(f"{proc_args} did not finish")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main() -> None:
    """Run the measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="capacity-"))
    dbs = {name: create_database(f"countyhub_cap_{name[:4]}") for name in ("formulary", "procurement")}
    vhost = f"countyhub_cap_{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    broker = Broker(vhost)
    try:
        env = base_env(tmp, FORMULARY_DATABASE_URL=dbs["formulary"], PROCUREMENT_DATABASE_URL=dbs["procurement"],
                       BROKER_URL=broker.url)
        countyhub("migrate", "--service", "formulary", "--service", "procurement", env=env)
        countyhub("topology", env=env)
        admin = {"Authorization": "Bearer " + countyhub("token", "--role", "formulary_admin", "--subject", "a1",
                                                         env=env).stdout.strip()}
        manager = {"Authorization": "Bearer " + countyhub("token", "--role", "pharmacy_manager", "--subject", "m1",
                                                           env=env).stdout.strip()}
        server = start_gunicorn("formulary", env, tmp)
        print(f"formulary API pod: gunicorn {server.env['GUNICORN_WORKERS']} workers x "
              f"{server.env['GUNICORN_THREADS']} threads, {args.clients} clients, {args.seconds:.0f} s each")
        ceiling = load(server, "GET", "/healthz", None, {}, args.seconds, args.clients)
        writes = load(server, "POST", "/api/v1/items", None, admin, args.seconds, args.clients,
                      make_body=lambda n, i: sample_item(f"YP{n:02d}{i:04d}"))
        status, body = server.request("GET", "/api/v1/changes?status=draft&limit=5000", None, manager)
        ids = [c["id"] for c in json.loads(body)]
        server.request("POST", "/api/v1/changes/approve", {"change_ids": ids, "note": "bench"}, manager, timeout=600)
        reads = load(server, "GET", "/api/v1/items?q=amxl&limit=20", None, admin, args.seconds, args.clients)
        server.terminate()
        for name, fig in (("GET /healthz (ceiling)", ceiling), ("GET /api/v1/items search", reads),
                          ("POST /api/v1/items propose", writes)):
            print(f"  {name:28s} {fig['rps']:7.1f} req/s  p50 {fig['p50_ms']:6.1f} ms  p99 {fig['p99_ms']:6.1f} ms"
                  f"  errors {fig['errors']:.0f}  ({fig['rps'] / ceiling['rps']:.2f} of ceiling)")

        events = scalar(dbs["formulary"], "SELECT count(*) FROM outbox")
        relay_s = drain(["relay", "--service", "formulary"], env, tmp / "relay.log", lambda: (
            True if scalar(dbs["formulary"], "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 else
            "started" if scalar(dbs["formulary"], "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL") else False))
        queued = broker.depth("procurement.events")
        consume_s = drain(["consume", "--service", "procurement"], env, tmp / "consumer.log", lambda: (
            True if scalar(dbs["procurement"], "SELECT count(*) FROM inbox") >= queued else
            "started" if scalar(dbs["procurement"], "SELECT count(*) FROM inbox") else False))
        print(f"relay (one process):    {events} events in {relay_s:.2f} s = {events / max(relay_s, 1e-3):7.1f} events/s")
        print(f"consumer (one process): {queued} events in {consume_s:.2f} s = {queued / max(consume_s, 1e-3):7.1f} events/s"
              "  (procurement's reference read model)")
    finally:
        for url in dbs.values():
            drop_database(url)
        rabbitmqctl("delete_vhost", vhost, check=False)


if __name__ == "__main__":
    main()
