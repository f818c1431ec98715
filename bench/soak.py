"""Soak under faults: the four services as production runs them, a mixed load, and faults in turn.

    python -m bench.soak [--duration 180] [--baseline 30] [--clients 8] [--faults rabbitmq,...]
    make soak

On a private PostgreSQL and a private RabbitMQ (tests/support/servers.py: the machine's shared
servers on 5432/5672 are never touched), four fresh databases are migrated (`countyhub migrate`),
the topology declared (`countyhub topology`) and the sample county seeded (formulary catalogue,
sites and stocking lists; the dispatch fleet). The four APIs run under gunicorn with
shared/gunicorn_conf.py, with every relay, consumer and worker as `countyhub` processes
(bench/soak_procs.py); the reference events travel to every service before the load starts.

Closed-loop clients on loopback then do a working day's mix (bench/soak_load.py) while, after a
quiet baseline, these faults happen in turn, each in its own window of the load:

- rabbitmq        the broker stopped for --mq-down seconds, then started
- consumer_kill   the procurement and dispatch consumers SIGKILLed (mid-batch, under load);
                  the supervisor starts them again a second later, as the kubelet would
- relay_kill      the procurement and review relays SIGKILLed (possibly between publishing and
                  marking sent); restarted a second later
- postgres        PostgreSQL stopped (fast: every connection cut) for --pg-down seconds, then started
- poison          bad JSON, an unknown event type and a payload its contract rejects published
                  onto every consuming service's queue
- duplicates      --duplicates already delivered events of each producer published again, as
                  a relay killed between publishing and marking sent would (recovered once the
                  consumers' inboxes have suppressed every copy)

After the load the bench waits until everything has drained, then checks the databases
(bench/soak_audit.py): every event sent is in each consumer's inbox and its effect is there
exactly once. It prints events sent and delivered, duplicates suppressed, dead letters, requests
by class and requests/s and p99 per operation during each window, and the recovery time after
each fault: from the moment the fault ends (server started, process restarted, poison published)
until every API's /readyz answers 200 and every event created before that moment has reached
all its consumers. It ends with one line per fault:

    FAULT name: sent N, delivered N, lost 0, duplicated effects 0, recovered in S s

Exit status 1 when any event was lost or applied twice. Figures, never assertions on speed.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.soak_audit import Ledger, dead_letters, inbox_hits, inject_poison, publish_again
from bench.soak_load import County, Load, call, receipt_body
from bench.soak_procs import Fleet, hub_env
from bench.soak_report import Window, report

FAULTS = ("rabbitmq", "consumer_kill", "relay_kill", "postgres", "poison", "duplicates")
SCREENING_SITES = ["CW-H01", "CW-T01", "CW-T02", "CW-T03", "CW-T01-V01", "CW-T02-V01"]


def now_utc() -> datetime:
    """The wall clock in UTC (outbox rows carry UTC creation times)."""
    return datetime.now(UTC)


def say(text: str) -> None:
    """Progress on stderr (the figures go to stdout)."""
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def wait(check: Any, timeout: float, what: str, interval: float = 0.5) -> float:
    """Poll until check() is truthy; seconds it took (RuntimeError after timeout)."""
    began = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - began
        except Exception:  # noqa: BLE001 - a database or broker still coming back: poll again
            pass
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def seed(env: dict[str, str]) -> None:
    """The sample county in formulary (catalogue, sites, stocking lists) and the dispatch fleet."""
    os.environ.update({k: v for k, v in env.items() if k.endswith("_DATABASE_URL") or k in ("JWT_SECRET", "BROKER_URL")})
    from hub.registry import spec
    from shared.config import load_settings
    from shared.runtime import build_context

    for name in ("formulary", "dispatch"):
        svc = spec(name)
        ctx = build_context(svc, load_settings(name))
        try:
            assert svc.seed is not None
            say(f"seeded {name}: {svc.seed(ctx, 'chengwu')}")
        finally:
            ctx.engine.dispose()


def county_for_load(fleet: Fleet) -> County:
    """Sites and items as procurement learned them from the reference events; stock received at the hub."""
    from services.prescription_review.sample_morning import morning
    from shared.config import load_settings

    ports = {s: a.port for s, a in fleet.apis.items()}
    county = County(ports, load_settings("formulary").keyring, {}, [], [], morning(SCREENING_SITES, n=400))
    manager = county.token("pharmacy_manager")
    _, _, sites = call(ports["procurement"], "GET", "/api/v1/reference/sites?limit=1000", manager)
    county.hub = next(s for s in sites if s["is_hub"])
    county.towns = sorted(s["code"] for s in sites if s["level"] == "township")[:6]
    keeper = county.token("storekeeper", county.towns[0])
    _, _, listed = call(ports["procurement"], "GET", f"/api/v1/reference/items?site={county.towns[0]}&limit=300", keeper)
    county.items = [i for i in listed if i["storage"] == "ambient" and i["manufacturer"] and i["kind"] == "drug"][:40]
    cls, status, body = call(ports["procurement"], "POST", "/api/v1/distributors", manager,
                             {"name": "国药控股菏泽有限公司", "tax_id": "913717000000000011", "items": "all"})
    if cls != "2xx":
        raise RuntimeError(f"registering the distributor: {status} {body}")
    for k in range(0, len(county.items), 5):
        cls, status, body = call(ports["procurement"], "POST", "/api/v1/receipts", manager,
                                 receipt_body(county, county.items[k:k + 5], f"SEED{k:03d}"))
        if cls != "2xx":
            raise RuntimeError(f"the opening stock receipt: {status} {body}")
    return county


class Soak:
    """One run: servers, fleet, load, the fault windows and the books."""

    def __init__(self, args: argparse.Namespace, servers: Any, tmp: Path) -> None:
        self.args, self.servers, self.tmp = args, servers, tmp
        self.db_urls = {name: servers.postgres.create_database(f"soak_{name[:11]}") for name in
                        ("formulary", "procurement", "prescription_review", "dispatch")}
        self.broker_url = servers.rabbit.url
        env = hub_env(tmp, self.db_urls, self.broker_url, secrets.token_urlsafe(48))
        self.fleet = Fleet(tmp, env, api_workers=args.api_workers)
        self.ledger = Ledger(self.db_urls)
        self.windows: list[Window] = []

    def prepare(self) -> Load:
        """Migrate, declare, seed, start everything, let the reference data travel, stock the hub."""
        self.fleet.countyhub("migrate")
        self.fleet.countyhub("topology")
        seed(self.fleet.env)
        self.fleet.start_apis()
        self.fleet.start_loops()
        took = wait(lambda: self.ledger.backlog(now_utc()) == 0, 600, "the reference events to reach every service")
        say(f"reference data delivered to every service in {took:.1f} s")
        county = county_for_load(self.fleet)
        return Load(county, self.args.clients, plan_time_limit_s=self.args.plan_time_limit)

    def window(self, name: str, seconds: float, fault: Any = None) -> Window:
        """Run a window of the load; the fault (if any) at its start; recovery measured from its end."""
        w = Window(name, time.monotonic(), now_utc())
        say(f"window {name} ({seconds:.0f} s)")
        dlq_before = dead_letters(self.broker_url) if name == "poison" else {}
        if fault is not None:
            w.detail = fault(w)
            w.restored, w.restored_utc = time.monotonic(), now_utc()
            try:
                wait(lambda: self.fleet.ready() and self.ledger.backlog(w.restored_utc) == 0
                     and (name != "poison" or self._poisoned(dlq_before, w)) and w.extra(), self.args.recovery_timeout,
                     f"recovery from {name}", interval=0.25)
                w.recovered_s = time.monotonic() - w.restored
            except RuntimeError:
                w.recovered_s = None
        rest = w.started + seconds - time.monotonic()
        if rest > 0:
            time.sleep(rest)
        w.ended, w.ended_utc = time.monotonic(), now_utc()
        self.windows.append(w)
        return w

    def _poisoned(self, before: dict[str, int], w: Window) -> bool:
        after = dead_letters(self.broker_url)
        w.dead_lettered = {q: after[q] - before.get(q, 0) for q in after}
        return sum(w.dead_lettered.values()) >= sum(w.injected.values())

    def fault(self, name: str) -> Any:
        """The action (given its window) that makes one fault happen and ends it; returns a note of what was done."""
        servers, fleet, args = self.servers, self.fleet, self.args

        def outage(what: str, stop: Any, start: Any, down: float) -> str:
            began = time.monotonic()
            stop()
            stopped = time.monotonic()
            time.sleep(down)
            restarting = time.monotonic()
            start()
            done = time.monotonic()
            return (f"{what}: stopping took {stopped - began:.1f} s, down {down:.0f} s, starting took "
                    f"{done - restarting:.1f} s (unreachable ~{done - began:.0f} s in all)")

        def rabbitmq(w: Window) -> str:
            return outage("rabbitmqctl stop, rabbitmq-server", servers.rabbit.stop, servers.rabbit.start, args.mq_down)

        def postgres(w: Window) -> str:
            return outage("pg_ctl stop -m fast, pg_ctl start", lambda: servers.postgres.stop("fast"),
                          servers.postgres.start, args.pg_down)

        def kill(names: tuple[str, ...]) -> str:
            # Mid-handling on purpose: paused (SIGSTOP) while work piles up for it, let go (SIGCONT)
            # and killed a random fraction of a second into the catch-up, when it is almost surely
            # inside a batch: between reading and committing, or between committing (publishing,
            # for a relay) and acking (marking sent).
            rounds = []
            for _ in range(args.kill_rounds):
                before = {n: fleet.loops[n].starts for n in names}
                for n in names:
                    fleet.loops[n].signal(signal.SIGSTOP)
                time.sleep(args.pause)
                for n in names:
                    fleet.loops[n].signal(signal.SIGCONT)
                delay = random.uniform(0.05, 0.6)
                time.sleep(delay)
                for n in names:
                    fleet.kill(n)
                rounds.append(f"{delay * 1000:.0f} ms")
                wait(lambda before=before: all(fleet.loops[n].starts > before[n] and fleet.loops[n].alive for n in names), 60,
                     "the supervisor to restart the killed processes", interval=0.1)
            return (f"SIGKILL {', '.join(names)}, {len(rounds)} round(s), each {args.pause:.0f} s paused then killed "
                    f"{' / '.join(rounds)} after SIGCONT; restarted by the supervisor 1 s later")

        def duplicates(w: Window) -> str:
            logs = [p.log for n, p in fleet.loops.items() if n.endswith("consumer")]
            before = inbox_hits(logs)
            envelopes = self.ledger.sent_envelopes(args.duplicates)
            due = publish_again(self.broker_url, envelopes)
            w.extra = lambda: inbox_hits(logs) - before >= due
            return (f"{len(envelopes)} delivered events (up to {args.duplicates} per producer) published again ({due} deliveries to "
                    "consumers that already have them)")

        def poison(w: Window) -> str:
            w.injected = inject_poison(self.broker_url)
            return f"{sum(w.injected.values())} poison messages published onto {len(w.injected)} queues"

        return {"rabbitmq": rabbitmq, "postgres": postgres, "poison": poison, "duplicates": duplicates,
                "consumer_kill": lambda w: kill(("procurement-consumer", "dispatch-consumer")),
                "relay_kill": lambda w: kill(("procurement-relay", "prescription_review-relay"))}[name]

    def run(self) -> int:
        """The whole soak; the process exit status."""
        load = self.prepare()
        faults = [f for f in self.args.faults.split(",") if f]
        per_fault = max(10.0, (self.args.duration - self.args.baseline) / max(1, len(faults)))
        say(f"load: {self.args.clients} clients + 1 dispatcher; faults {', '.join(faults)}, {per_fault:.0f} s each")
        load.start()
        try:
            self.window("baseline", self.args.baseline)
            for name in faults:
                self.window(name, per_fault, self.fault(name))
        finally:
            load.stop()
        try:
            drained = wait(lambda: self.ledger.backlog(now_utc()) == 0, self.args.recovery_timeout, "the last events to drain")
            say(f"drained {drained:.1f} s after the load stopped; auditing")
        except RuntimeError as exc:  # what never arrived is counted as lost below
            say(f"{exc}; auditing what is there")
        time.sleep(1.0)
        codes = self.fleet.stop()
        events, inboxes, effects = self.ledger.events(), self.ledger.inboxes(), self.ledger.effects()
        logs = [p.log for n, p in self.fleet.loops.items() if n.endswith("consumer")]
        return report(self.args, self.windows, load.recorder, self.ledger, events, inboxes, effects,
                      dead_letters(self.broker_url), inbox_hits(logs), self.fleet.restarts(), codes, load.plan_day)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start private servers, run the soak."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load in all (baseline + fault windows)")
    parser.add_argument("--baseline", type=float, default=30, help="seconds of load before the first fault")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, in order: {', '.join(FAULTS)}")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--api-workers", type=int, default=1, help="gunicorn workers per API (the Deployments say 2)")
    parser.add_argument("--mq-down", type=float, default=10, help="seconds the broker stays down")
    parser.add_argument("--pg-down", type=float, default=8, help="seconds PostgreSQL stays down")
    parser.add_argument("--plan-time-limit", type=float, default=2, help="the solver's time limit per plan (s)")
    parser.add_argument("--recovery-timeout", type=float, default=120,
                        help="seconds after a fault (and after the load) to wait for every event to arrive")
    parser.add_argument("--kill-rounds", type=int, default=2, help="SIGKILLs per process in a kill fault's window")
    parser.add_argument("--duplicates", type=int, default=40, help="events per producer published again")
    parser.add_argument("--pause", type=float, default=3, help="seconds a process is paused before it is killed")
    parser.add_argument("--logs", type=Path, help="copy every process's log into this folder at the end")
    args = parser.parse_args(argv)
    unknown = set(args.faults.split(",")) - set(FAULTS) - {""}
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    from tests.support.servers import private_servers

    signal.signal(signal.SIGTERM, _interrupt)  # stopped from outside: still stop the fleet and the servers

    with tempfile.TemporaryDirectory(prefix="countyhub-soak-") as folder, private_servers() as servers:
        say(f"private PostgreSQL on {servers.postgres.port}, RabbitMQ on {servers.rabbit.port}; work in {folder}")
        soak = Soak(args, servers, Path(folder))
        try:
            return soak.run()
        finally:
            soak.fleet.stop()
            soak.ledger.dispose()
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in Path(folder).glob("*.log"):
                    shutil.copy(log, args.logs / log.name)
                say(f"process logs copied to {args.logs}")


if __name__ == "__main__":
    raise SystemExit(main())
