"""Liveness and readiness of the processes that serve no HTTP: the relay, the consumer, the worker.

Liveness is a heartbeat file that the loop itself refreshes: a JSON object
`{"at": <unix seconds>, "pid": <int>, "role": <str>}` written atomically (temp file + rename) to
HEARTBEAT_FILE, at most once a second. A loop wedged on a dead connection or stuck in a native
call stops refreshing it, and the Kubernetes exec probe

    python -m shared.heartbeat check --max-age 90

fails (exit 1) once the file is older than `--max-age` seconds, so the kubelet restarts the
container. Without HEARTBEAT_FILE (the embedded hub, tests) beating does nothing.

Readiness means "can do its work":

    python -m shared.heartbeat ready --broker --service procurement     # relay, consumer
    python -m shared.heartbeat ready --database --service dispatch      # solver worker

connects to the broker (BROKER_URL) or the service's database (shared/config.py settings) once,
with a short timeout, and exits 0 if it answered.

How the loops beat: `BeatingEvent` is the stop event handed to every background loop
(shared/runtime.py); each `is_set()` or `wait()` the loop makes refreshes the heartbeat, so any
loop that checks its stop event between steps beats without knowing about heartbeats. The kombu
consumer, which blocks in `drain_events` rather than on the event, beats from its per-iteration
hook (shared/bus/consumer.py, `on_iteration`, about once a second).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ENV = "HEARTBEAT_FILE"


class Heartbeat:
    """Writes the heartbeat file; rate-limited to one write per `every_s` seconds; no-op without a path."""

    def __init__(self, path: str | Path | None, role: str = "loop", every_s: float = 1.0) -> None:
        self.path = Path(path) if path else None
        self.role = role
        self.every_s = every_s
        self._last = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, role: str = "loop") -> Heartbeat:
        """The heartbeat at $HEARTBEAT_FILE (a no-op one when it is unset)."""
        return cls(os.environ.get(ENV) or None, role)

    def beat(self, force: bool = False, at: float | None = None) -> None:
        """Refresh the file if the last write is older than `every_s` (or `force`).

        `at` (unix seconds, default now) is the time written: BeatingEvent writes its slowest
        loop's last check, so one wedged loop keeps the file old while the others run.
        """
        if self.path is None:
            return
        now = time.time()
        with self._lock:
            if not force and now - self._last < self.every_s:
                return
            self._last = now
        body = json.dumps({"at": now if at is None else at, "pid": os.getpid(), "role": self.role})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".heartbeat-")
            with os.fdopen(fd, "w") as fh:
                fh.write(body)
            os.replace(tmp, self.path)
        except OSError:
            # A full or read-only /tmp must not kill the loop; the probe will notice the stale file.
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class BeatingEvent(threading.Event):
    """A stop event whose `is_set()` and `wait()` refresh a heartbeat: the loops that poll it beat.

    Every thread that checks the event is tracked on its own, and the time written is that of the
    loop that checked least recently: with two loops in one process (prescription review's HIS
    inbox and waiting-limit sweep) one wedged loop makes the heartbeat go stale although the other
    still runs. A thread parked in `wait()` without a timeout (a watcher that only waits for the
    stop) is not counted while it waits; threads that ended are forgotten.
    """

    def __init__(self, heartbeat: Heartbeat) -> None:
        super().__init__()
        self.heartbeat = heartbeat
        self._seen: dict[int, float] = {}
        self._parked: set[int] = set()
        self._track = threading.Lock()
        self._pruned_at = 0.0

    PRUNE_EVERY_S = 1.0  # ended threads are forgotten this often, not on every check of a hot loop

    def _touch(self, park: bool | None = None) -> None:
        me, now = threading.get_ident(), time.time()
        alive = {t.ident for t in threading.enumerate()} if now - self._pruned_at >= self.PRUNE_EVERY_S else None
        with self._track:
            self._seen[me] = now
            if park is True:
                self._parked.add(me)
            elif park is False:
                self._parked.discard(me)
            if alive is not None:
                self._pruned_at = now
                for ident in [i for i in self._seen if i not in alive]:
                    self._seen.pop(ident, None)
                    self._parked.discard(ident)
            active = [t for i, t in self._seen.items() if i not in self._parked]
        self.heartbeat.beat(at=min(active) if active else now)

    def is_set(self) -> bool:
        """Whether a stop was asked for; beats."""
        self._touch()
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a stop; beats before and after (a long wait is bounded by the loop's own timeout)."""
        self._touch(park=True if timeout is None else None)
        try:
            return super().wait(timeout)
        finally:
            self._touch(park=False if timeout is None else None)


def age_seconds(path: str | Path) -> float | None:
    """Seconds since the heartbeat file was written, None if it is missing or unreadable."""
    try:
        at = float(json.loads(Path(path).read_text())["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(0.0, time.time() - at)


def check(path: str | Path, max_age_s: float) -> tuple[bool, str]:
    """(alive, reason): alive when the heartbeat is at most `max_age_s` seconds old."""
    age = age_seconds(path)
    if age is None:
        return False, f"no heartbeat at {path}"
    if age > max_age_s:
        return False, f"heartbeat {age:.0f} s old (limit {max_age_s:.0f} s)"
    return True, f"heartbeat {age:.1f} s old"


def broker_ready(url: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """(ready, reason): the broker accepts a connection (always true for the in-process transports)."""
    from kombu import Connection

    if not url:
        return False, "BROKER_URL is not set"
    if not url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return True, "embedded transport"
    try:
        with Connection(url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
        return True, "broker reachable"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, f"broker unreachable: {type(exc).__name__}: {exc}"


def database_ready(url: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """(ready, reason): the database answers `SELECT 1`."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    if not url:
        return False, "no database URL is set"
    args = {"connect_timeout": max(1, int(timeout_s))} if url.startswith("postgresql") else {}
    engine = create_engine(url, connect_args=args, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True, "database reachable"
    except Exception as exc:  # noqa: BLE001
        return False, f"database unreachable: {type(exc).__name__}"
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """The probes' command line: `check` (liveness) and `ready` (readiness); exit 0 = healthy."""
    parser = argparse.ArgumentParser(prog="python -m shared.heartbeat", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    live = sub.add_parser("check", help="liveness: the heartbeat file is fresh")
    live.add_argument("--file", default=os.environ.get(ENV), help=f"default ${ENV}")
    live.add_argument("--max-age", type=float, required=True, help="seconds")
    ready = sub.add_parser("ready", help="readiness: what the process needs answers")
    ready.add_argument("--service", required=True)
    ready.add_argument("--broker", action="store_true", help="BROKER_URL accepts a connection")
    ready.add_argument("--database", action="store_true", help="the service's database answers")
    ready.add_argument("--timeout", type=float, default=5.0, help="seconds per check")
    args = parser.parse_args(argv)

    if args.command == "check":
        if not args.file:
            print(f"no heartbeat file: pass --file or set {ENV}", file=sys.stderr)
            return 2
        ok, reason = check(args.file, args.max_age)
        print(reason, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1

    results: list[tuple[bool, str]] = []
    if args.broker:
        results.append(broker_ready(os.environ.get("BROKER_URL", ""), args.timeout))
    if args.database:
        # The same variables shared/config.py reads, without its embedded fallbacks.
        url = os.environ.get(f"{args.service.upper()}_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
        results.append(database_ready(url, args.timeout))
    if not results:
        print("nothing to check: pass --broker and/or --database", file=sys.stderr)
        return 2
    for ok, reason in results:
        print(reason, file=sys.stdout if ok else sys.stderr)
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
