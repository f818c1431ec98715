"""Formulary benchmark: search latency over the seeded catalogue, and the bus's event throughput.

    python -m bench.formulary [--queries 2000] [--events 2000] [--pg] [--no-bus] [--no-search]

Prints figures; asserts nothing. The bus part needs RabbitMQ (BROKER_URL or 127.0.0.1:5672) and,
with --pg, PostgreSQL; it runs the real outbox relay and consumer beside a plain pika
publish/consume loop in the same run, so the ratio between them is the figure to read.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import Column, Integer, String, Table, create_engine, insert, text

from shared.auth import issue_token
from shared.bus.consumer import EventConsumer
from shared.bus.outbox import record_event
from shared.bus.rabbit_admin import declare_topology
from shared.bus.tables import add_bus_tables
from shared.bus.topology import topology
from shared.config import Settings
from shared.db import make_engine, new_metadata, session_factory, unit_of_work
from shared.migrate import upgrade
from shared.runtime import ServiceContext, ServiceSpec, build_context, handle_each, relay_loop

PREFETCH = 50  # the consumer's prefetch and largest batch; the plain loop uses the same prefetch
QUERIES = ["amxl", "阿莫西林", "YP0000", "硝苯", "nifedipine", "xbdp", "胰岛素", "ydsu", "头孢", "tb", "注射液", "ggl"]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def bench_search(queries: int, database_url: str | None) -> None:
    """Seed the sample county into a fresh formulary database and time GET /api/v1/items?q=."""
    from services.formulary.app import SPEC
    from services.formulary.seed.loader import seed_if_empty

    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/formulary.sqlite3"
        settings = Settings("formulary", url, "memory://", "bench-secret-of-at-least-thirty-two-b", 0)
        ctx = build_context(SPEC, settings)
        upgrade(SPEC.migrations, ctx.engine)
        started = time.perf_counter()
        seeded = seed_if_empty(ctx)
        print(f"seed: {seeded} in {time.perf_counter() - started:.1f} s")
        client = SPEC.create_app(ctx).test_client()
        headers = {"Authorization": "Bearer " + issue_token(settings.jwt_secret, "pharmacist")}
        rng = random.Random(7)
        timings: list[float] = []
        hits = 0
        for _ in range(queries):
            q = rng.choice(QUERIES)
            t0 = time.perf_counter()
            response = client.get(f"/api/v1/items?q={q}&limit=20", headers=headers)
            timings.append((time.perf_counter() - t0) * 1000)
            hits += len(response.get_json()["items"])
        kind = "PostgreSQL" if database_url else "SQLite"
        print(
            f"search ({kind}, {queries} queries through the Flask app): p50 {percentile(timings, 50):.2f} ms, "
            f"p99 {percentile(timings, 99):.2f} ms, mean {statistics.mean(timings):.2f} ms, "
            f"{hits / queries:.1f} results/query"
        )
        ctx.engine.dispose()


def _vhost() -> tuple[str, Callable[[], None]]:
    vhost = f"bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True)

    def cleanup() -> None:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)

    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}", cleanup


def bench_plain_pika(url: str, n: int) -> float:
    """Publish n messages with confirms and consume them with manual acks: events per second."""
    body = b'{"specversion":"1.0","id":"x","type":"formulary.item.retired","data":{}}' * 4
    params = pika.URLParameters(url)
    pub_conn = pika.BlockingConnection(params)
    pub = pub_conn.channel()
    pub.queue_declare("plain", durable=True, arguments={"x-queue-type": "quorum"})
    pub.confirm_delivery()
    received = 0
    done = threading.Event()

    def consume() -> None:
        nonlocal received
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        ch.basic_qos(prefetch_count=PREFETCH)
        for method, _props, _body in ch.consume("plain", inactivity_timeout=10):
            if method is None:
                break
            ch.basic_ack(method.delivery_tag)
            received += 1
            if received >= n:
                break
        ch.cancel()
        conn.close()
        done.set()

    started = time.perf_counter()
    thread = threading.Thread(target=consume)
    thread.start()
    for _ in range(n):
        pub.basic_publish("", "plain", body, pika.BasicProperties(delivery_mode=2))
    done.wait(300)
    elapsed = time.perf_counter() - started
    pub_conn.close()
    return received / elapsed


def bench_bus(url: str, n: int, database_url: str | None) -> float:
    """Record n events in an outbox; the real relay publishes, the real consumer applies them.

    The consumer is the runtime's: EventConsumer gathering batches, handle_each applying each
    batch in one transaction through the inbox (shared/runtime.py), acks after the commit.
    """
    with tempfile.TemporaryDirectory() as tmp:
        db = database_url or f"sqlite:///{tmp}/bus.sqlite3"
        metadata = new_metadata()
        add_bus_tables(metadata)
        applied = Table("applied", metadata, Column("id", Integer, primary_key=True), Column("code", String(40)))
        engine = make_engine(db)
        metadata.drop_all(engine)
        metadata.create_all(engine)
        factory = session_factory(engine)
        ctx = ServiceContext(Settings("dispatch", db, url, "bench-secret-of-at-least-thirty-two-b", 0), metadata, engine, factory)
        declare_topology(url)
        count = 0
        finished = threading.Event()

        def handler(session: Any, payload: dict[str, Any], event: Any) -> None:
            session.execute(insert(applied).values(code=payload["code"]))

        spec = ServiceSpec(
            name="dispatch", port=0, metadata=metadata, create_app=_no_app, migrations=Path(tmp),
            handlers={"formulary.item.retired": handler},
        )  # fmt: skip

        def handle_many(events: list[Any]) -> list[BaseException | None]:
            nonlocal count
            outcomes = handle_each(spec, ctx, events)
            count += sum(1 for o in outcomes if o is None)
            if count >= n:
                finished.set()
            return outcomes

        consumer = EventConsumer(url, topology()["dispatch"], handle_many=handle_many, prefetch=PREFETCH)
        consumer_thread = threading.Thread(target=consumer.run, daemon=True)
        consumer_thread.start()
        time.sleep(1.0)
        stop = threading.Event()
        started = time.perf_counter()
        relay = threading.Thread(target=relay_loop, args=(ctx, stop, 0.01), daemon=True)
        relay.start()
        batch = 100
        for start in range(0, n, batch):
            with unit_of_work(factory) as session:
                for i in range(start, min(n, start + batch)):
                    record_event(
                        session, metadata, "formulary.item.retired",
                        {"code": f"B{i:06d}", "version": 1, "catalogue_version": 1, "reason": None}, source="/bench",
                    )  # fmt: skip
        finished.wait(600)
        elapsed = time.perf_counter() - started
        stop.set()
        consumer.should_stop = True
        consumer_thread.join(5)
        with engine.connect() as conn:
            rows = conn.execute(text("select count(*) from applied")).scalar_one()
        engine.dispose()
        assert rows == n, f"applied {rows} of {n}"
        return n / elapsed


def _no_app(ctx: Any) -> Any:
    raise NotImplementedError("the bus benchmark runs no web app")


def bench_county_generation() -> None:
    """Generating a Rizhao-size county (55 townships, 1,583 clinics): the figure the seed test used to assert."""
    from services.formulary.seed.county import generate_county

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        generate_county("generated", seed=7, townships=55, clinics=1583)
        timings.append(time.perf_counter() - started)
    print(f"county generation (55 townships, 1,583 clinics): best {min(timings):.2f} s of 3")


def main() -> None:
    """Run the benchmarks and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL (postgres@127.0.0.1/test)")
    parser.add_argument("--no-bus", action="store_true")
    parser.add_argument("--no-search", action="store_true", help="only the bus figures")
    args = parser.parse_args()
    pg_url = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if not args.no_search:
        bench_county_generation()
        bench_search(args.queries, None)
    if args.pg and not args.no_search:
        pg = create_engine(pg_url)
        with pg.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS bench_formulary CASCADE"))
            conn.execute(text("CREATE SCHEMA bench_formulary"))
        pg.dispose()
        bench_search(args.queries, pg_url + "?options=-csearch_path%3Dbench_formulary")
    if args.no_bus:
        return
    url, cleanup = _vhost()
    try:
        plain = bench_plain_pika(url, args.events)
        ours = bench_bus(url, args.events, pg_url if args.pg else None)
        print(f"plain pika publish(confirm)/consume(ack) loop: {plain:,.0f} events/s")
        store = "PostgreSQL" if args.pg else "SQLite"
        print(f"hub bus end to end (outbox on {store} -> relay -> RabbitMQ -> consumer -> inbox): {ours:,.0f} events/s")
        print(f"ratio hub/plain: {ours / plain:.2f}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
