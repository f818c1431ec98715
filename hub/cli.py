"""`countyhub`: run the hub, migrate, issue tokens, run the demo, manage the broker."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from hub import registry
from hub.registry import spec
from shared.auth import ROLES


def _ctx(name: str):  # type: ignore[no-untyped-def]
    from shared.config import load_settings
    from shared.runtime import build_context

    return build_context(spec(name), load_settings(name))


def cmd_run(args: argparse.Namespace) -> int:
    """Run all four services on the embedded default (or the configured URLs)."""
    from hub.embedded import run_embedded

    profile = args.profile
    if args.townships or args.clinics:  # a generated county of the given size (e.g. 55 townships, 1583 clinics)
        profile = f"generated:{args.townships or 13}:{args.clinics or (args.townships or 13) * 8}"
    run_embedded(seed=not args.no_seed, host=args.host, profile=profile)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade service databases to the newest revision; on PostgreSQL, then grant the application role
    (<SERVICE>_DATABASE_APP_ROLE, else <owner>_app if it exists) only what the service needs."""
    from shared.migrate import upgrade

    for name in args.service or registry.SERVICES:
        upgrade(spec(name).migrations, _ctx(name).engine)
        print(f"{name}: at head")
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    """Autogenerate a revision for one service against a scratch SQLite database at head."""
    import tempfile

    from shared.db import make_engine
    from shared.migrate import revision, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.sqlite3")
        upgrade(spec(args.service).migrations, engine)
        revision(spec(args.service).migrations, engine, args.message)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Print a bearer token the hub accepts."""
    from shared.auth import issue_token
    from shared.config import load_settings

    if args.role == "storekeeper" and not args.site:
        print("a storekeeper token needs --site CODE", file=sys.stderr)
        return 2
    keyring = load_settings("formulary").keyring  # signing key, key id, audience and lifetime as the hub has them
    try:
        print(issue_token(keyring, args.role, site=args.site, subject=args.subject, name=args.name))
    except ValueError as exc:  # a subject the system reserves (seed, system-…)
        print(f"countyhub token: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """A scripted working day against the running (or a freshly started) embedded hub."""
    from hub.demo import run_demo

    return run_demo(base_host=args.host, start=not args.attach)


def cmd_topology(args: argparse.Namespace) -> int:
    """Declare the RabbitMQ topology (exchanges, quorum queues, retry and dead-letter queues)."""
    from shared.bus.rabbit_admin import declare_topology

    for line in declare_topology(os.environ["BROKER_URL"], quorum=not args.classic):
        print(line)
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    """Run one service's outbox relay in the foreground."""
    return _foreground(args.service, relay=True, consume=False, workers=False)


def cmd_consume(args: argparse.Namespace) -> int:
    """Run one service's event consumer in the foreground."""
    return _foreground(args.service, relay=False, consume=True, workers=False)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one service's background workers (the dispatch solver) in the foreground."""
    return _foreground(args.service, relay=False, consume=False, workers=True)


def _foreground(name: str, *, relay: bool, consume: bool, workers: bool) -> int:
    """Run the chosen loops until SIGTERM/SIGINT, then stop them gracefully.

    On SIGTERM (Kubernetes, a rolling update) the stop event is set: the relay finishes its
    batch, the consumer stops taking messages and finishes and acks the one in hand (prefetched,
    unacked messages return to the queue when its connection closes), the solver worker hands
    its plan back to the queue. The process waits up to SHUTDOWN_GRACE_S seconds (default 20)
    for that — less than the pod's terminationGracePeriodSeconds (deploy/k8s/generate.py).
    The stop event also carries the liveness heartbeat (shared/heartbeat.py, HEARTBEAT_FILE):
    each time a loop checks it, the heartbeat is refreshed.
    """
    import logging
    import signal
    import threading

    from shared.heartbeat import BeatingEvent, Heartbeat
    from shared.runtime import Background
    from shared.web.logging import configure_logging

    role = "relay" if relay else "consumer" if consume else "worker"
    done = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("countyhub").info("stopping", extra={"signal": signum, "role": role})
        done.set()

    # First, so that a SIGTERM while the service is still importing is a graceful stop too.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    configure_logging(name, os.environ.get("LOG_LEVEL", "INFO"))
    heartbeat = Heartbeat.from_env(role)
    background = Background(spec(name), _ctx(name))
    background.stop = BeatingEvent(heartbeat)  # every loop's stop checks refresh the heartbeat
    heartbeat.beat(force=True)
    if done.is_set():
        return 0
    background.start(relay=relay, consume=consume, workers=workers)
    done.wait()
    background.shutdown(timeout=float(os.environ.get("SHUTDOWN_GRACE_S", "20")))
    alive = [t.name for t in background.threads if t.is_alive()]
    if alive:
        logging.getLogger("countyhub").warning("loops still running at exit", extra={"threads": alive})
        return 1
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    """List or replay dead-lettered events of a consuming service (all of them without --service)."""
    from shared.bus.publisher import is_amqp
    from shared.bus.topology import topology

    consumers = list(topology())
    if args.service and args.service not in consumers:
        print(f"{args.service} consumes no events, so nothing is dead-lettered for it; one of: "
              f"{', '.join(consumers)} (or no --service: all)", file=sys.stderr)  # fmt: skip
        return 2
    services = [args.service] if args.service else consumers
    url = os.environ.get("BROKER_URL", "")
    if is_amqp(url):
        return _dlq_rabbitmq(args.action, url, services)
    return _dlq_embedded(args.action, services)


DLQ_COLUMNS = "consumer\tevent_id\ttype\tdead_lettered_at\treason"


def _dlq_line(consumer: str, event_id: object, event_type: object, at: object, reason: object) -> str:
    cells = [consumer, event_id, event_type, at, reason]
    return "\t".join(" ".join(str("-" if c is None else c).split()) for c in cells)  # one line, tab-separated


def _dlq_rabbitmq(action: str, url: str, services: list[str]) -> int:
    """Each service's dead-letter queue: list peeks (nothing removed); replay moves all back to its queue."""
    from shared.bus.rabbit_admin import list_dead_letters, replay_dead_letters

    if action == "list":
        print(DLQ_COLUMNS)
        for name in services:
            for letter in list_dead_letters(url, name):
                print(_dlq_line(name, letter.event_id, letter.event_type, letter.at, letter.reason))
        return 0
    for name in services:
        print(f"{name}: replayed {replay_dead_letters(url, name)}")
    return 0


def _dlq_embedded(action: str, services: list[str]) -> int:
    """The embedded relay dead-letters on the producer's outbox row (shared/bus/local.py): every
    service's outbox is read; replay makes the rows unsent again for the running (or next) relay."""
    from shared.bus.local import dead_letters, replay_local_dead_letters
    from shared.config import load_settings

    where = Path(os.environ.get("HUB_DATA_DIR", "var")).resolve()
    on_sqlite = not any(k.endswith("DATABASE_URL") for k in os.environ)
    if on_sqlite and not where.is_dir():  # a mistyped HUB_DATA_DIR must not read as "no dead letters"
        print(f"no hub data directory at {where} (HUB_DATA_DIR): nothing to {action}", file=sys.stderr)
        return 2
    producers = []
    for name in registry.SERVICES:
        settings = load_settings(name)
        path = settings.database_url.removeprefix("sqlite:///")
        if settings.database_url.startswith("sqlite:///") and not os.path.exists(path):
            continue  # never started: no outbox, no dead letters (and no empty file made here)
        producers.append(_ctx(name))
    if action == "list":
        print(DLQ_COLUMNS)
        for ctx in producers:
            for row in dead_letters(ctx.factory, ctx.metadata, limit=1000):
                at = row["at"].isoformat() if row["at"] is not None else None
                named = row["consumers"].split(",")  # "*": every subscriber of its type, shown once
                for name in [n for n in named if n == "*" or n in services]:
                    print(_dlq_line(name, row["event_id"], row["event_type"], at, row["reason"]))
        return 0
    for name in services:
        moved = sum(replay_local_dead_letters(ctx.factory, ctx.metadata, name) for ctx in producers)
        print(f"{name}: replayed {moved}")
    print("the hub's relay offers them again within a second (a stopped hub: when it starts)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="countyhub", description="County Pharmacy & Logistics Hub")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--no-seed", action="store_true", help="do not seed the sample county")
    run.add_argument("--profile", default="chengwu", help="sample county profile: chengwu, generated, rizhao")
    run.add_argument("--townships", type=int, help="a generated county with this many townships")
    run.add_argument("--clinics", type=int, help="... and this many village clinics")
    run.set_defaults(func=cmd_run)
    mig = sub.add_parser("migrate", help=cmd_migrate.__doc__)
    mig.add_argument("--service", action="append", choices=registry.SERVICES)
    mig.set_defaults(func=cmd_migrate)
    mk = sub.add_parser("makemigrations", help=cmd_makemigrations.__doc__)
    mk.add_argument("--service", required=True, choices=registry.SERVICES)
    mk.add_argument("-m", "--message", required=True)
    mk.set_defaults(func=cmd_makemigrations)
    tok = sub.add_parser("token", help=cmd_token.__doc__)
    tok.add_argument("--role", required=True, choices=ROLES)
    tok.add_argument("--site")
    tok.add_argument("--subject")
    tok.add_argument("--name")
    tok.set_defaults(func=cmd_token)
    demo = sub.add_parser("demo", help=cmd_demo.__doc__)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--attach", action="store_true", help="use a hub that is already running")
    demo.set_defaults(func=cmd_demo)
    topo = sub.add_parser("topology", help=cmd_topology.__doc__)
    topo.add_argument("--classic", action="store_true", help="classic queues (a broker without quorum queues)")
    topo.set_defaults(func=cmd_topology)
    for name, func in (("relay", cmd_relay), ("consume", cmd_consume), ("worker", cmd_worker)):
        p = sub.add_parser(name, help=func.__doc__)
        p.add_argument("--service", required=True, choices=registry.SERVICES)
        p.set_defaults(func=func)
    dlq = sub.add_parser("dlq", help=cmd_dlq.__doc__)
    dlq.add_argument("action", choices=("list", "replay"))
    dlq.add_argument("--service", choices=registry.SERVICES, help="a consuming service; all of them if left out")
    dlq.set_defaults(func=cmd_dlq)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    from shared.config import ConfigError

    try:
        return int(args.func(args))
    except ConfigError as exc:  # e.g. a production start without a fit JWT_SECRET: say what to set
        print(f"countyhub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
