"""Private PostgreSQL and RabbitMQ instances that a test (or bench.soak) may stop and start at will.

The machine's PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672) are shared by everyone's
tests and are never stopped. A fault test runs its services against servers of its own instead:

- ``PrivatePostgres``: a throw-away cluster (``initdb`` + ``pg_ctl`` from
  /usr/lib/postgresql/<newest>/bin, run as the ``postgres`` user when we are root) in a temporary
  directory, trust authentication, listening on 127.0.0.1:<port> only; fsync and synchronous
  commit off for speed (the cluster is thrown away). A ``stop()`` (``pg_ctl stop -m fast``) still
  keeps every committed row: the shutdown checkpoint writes it; ``stop("immediate")`` is a crash
  and may lose the last commits.
- ``PrivateRabbit``: a RabbitMQ node of its own (``rabbitmq-server`` in the foreground with its own
  RABBITMQ_NODENAME, RABBITMQ_NODE_PORT, RABBITMQ_DIST_PORT, mnesia and log directories, config
  file, an empty env file and no plugins), sharing only the machine's epmd; stopped with
  ``rabbitmqctl -n <node> stop``. Its mnesia directory survives a stop, so durable queues and
  persistent messages are there again after ``start()``, as on a real broker restart.

API (every method blocks until the server is really up or down, or raises ServerError on timeout)::

    pg = PrivatePostgres()            # port=None: a free port; nothing runs until start()
    pg.start(); pg.url("mydb")        # postgresql+psycopg://postgres@127.0.0.1:<port>/mydb
    pg.create_database("faults")      # a new database with a random suffix; returns its URL
    pg.stop(); pg.start()             # stop -m fast (clients are cut off) and start again
    with pg.stopped(): ...            # down inside the block, always started again afterwards
    pg.close()                        # stop and remove the data directory

    mq = PrivateRabbit()
    mq.start(); mq.url                # amqp://guest:guest@127.0.0.1:<port>/%2F
    mq.start(wait=False); ...; mq.wait_started()   # boot the node while doing something else
    mq.stop(); mq.start()             # rabbitmqctl stop, then a new rabbitmq-server process
    with mq.stopped(): ...
    mq.ctl("list_queues")             # rabbitmqctl -n <node> ... against this node
    mq.close()                        # killed, directory removed

    with private_servers() as servers:  # both started (in parallel), both closed at the end
        servers.postgres.url("x"); servers.rabbit.url
    with private_servers(wait=False) as servers:  # PostgreSQL up, the node still booting
        ...; servers.rabbit.wait_started()

Instances still alive when the interpreter exits are closed by an atexit hook, so an aborted run
leaves no server behind. Start-up costs: PostgreSQL ~1 s (initdb + start), RabbitMQ ~5 s.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN_ROOT = Path("/usr/lib/postgresql")
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0

_LIVE: set[PrivatePostgres | PrivateRabbit] = set()
_LIVE_LOCK = threading.Lock()


class ServerError(RuntimeError):
    """A private server did not start or stop in time; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _wait(condition: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise ServerError(f"timed out after {timeout:.0f} s waiting for {what}\n{_tail(log)}")
        time.sleep(0.1)


def _register(server: PrivatePostgres | PrivateRabbit) -> None:
    with _LIVE_LOCK:
        _LIVE.add(server)


def _unregister(server: PrivatePostgres | PrivateRabbit) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(server)


@atexit.register
def _close_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for server in leftovers:
        with contextlib.suppress(Exception):
            server.close()


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path:
    """The bin directory of the newest PostgreSQL installed under /usr/lib/postgresql."""
    versions = sorted((p for p in PG_BIN_ROOT.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not versions:
        raise ServerError(f"no PostgreSQL binaries under {PG_BIN_ROOT}")
    return versions[-1]


class PrivatePostgres:
    """A private PostgreSQL cluster on 127.0.0.1:port (trust auth, user postgres).

    Nothing runs until start(); the cluster is created (initdb) by the first start(). When the
    tests run as root, initdb/pg_ctl run as the `postgres` user (runuser) in a directory it owns.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = Path(tempfile.mkdtemp(prefix=f"countyhub-pg-{self.port}-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.bin = _pg_bin()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chmod(self.base, 0o755)
            os.chown(self.base, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.base, check=False)

    @property
    def running(self) -> bool:
        """Whether the server accepts TCP connections."""
        return port_open(self.port)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        """initdb (first time only) and pg_ctl start; returns once it accepts connections."""
        if not (self.data / "PG_VERSION").exists():
            done = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                             "-E", "UTF8", "--no-sync", timeout=120)
            if done.returncode != 0:
                raise ServerError(f"initdb failed: {done.stdout}\n{done.stderr}")
        _register(self)
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log),
                         "-w", "-t", str(int(START_TIMEOUT_S)), "start", timeout=START_TIMEOUT_S + 10)
        if done.returncode != 0:
            raise ServerError(f"pg_ctl start failed: {done.stdout}\n{done.stderr}\n{_tail(self.log)}")
        _wait(lambda: self.running, START_TIMEOUT_S, f"PostgreSQL on port {self.port}", self.log)
        return self

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m fast (or "immediate"): every client is disconnected; returns once down."""
        if not (self.data / "postmaster.pid").exists():
            return
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                         "-t", str(int(STOP_TIMEOUT_S)), "stop", timeout=STOP_TIMEOUT_S + 10)
        if done.returncode != 0 and (self.data / "postmaster.pid").exists():
            raise ServerError(f"pg_ctl stop failed: {done.stdout}\n{done.stderr}\n{_tail(self.log)}")
        _wait(lambda: not self.running, STOP_TIMEOUT_S, f"PostgreSQL on port {self.port} to stop", self.log)

    @contextlib.contextmanager
    def stopped(self, mode: str = "fast") -> Iterator[None]:
        """Down inside the block; started again when it ends, whatever happened inside."""
        self.stop(mode)
        try:
            yield
        finally:
            self.start()

    def create_database(self, prefix: str = "countyhub") -> str:
        """A new empty database with a random suffix; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        done = self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                         name, timeout=60)
        if done.returncode != 0:
            raise ServerError(f"createdb {name} failed: {done.stderr}")
        return self.url(name)

    def close(self) -> None:
        """Stop the server (immediately) and remove its directory."""
        with contextlib.suppress(Exception):
            self.stop("immediate")
        _unregister(self)
        shutil.rmtree(self.base, ignore_errors=True)


# --- RabbitMQ ------------------------------------------------------------------------------------


class PrivateRabbit:
    """A private RabbitMQ node on 127.0.0.1:port (user guest/guest, default vhost "/").

    The node is `countyhub-<port>@localhost` with its own distribution port, mnesia and log
    directories and config file; only epmd is shared with the machine's node.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dist_port = free_port()
        self.node = f"countyhub-{self.port}@localhost"
        self.base = Path(tempfile.mkdtemp(prefix=f"countyhub-mq-{self.port}-"))
        self.log = self.base / "rabbitmq.out"
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "log.console = false\nlog.file.level = warning\n", encoding="utf-8")
        (self.base / "rabbitmq-env.conf").write_text("", encoding="utf-8")
        (self.base / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The AMQP URL of the node's default vhost."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def env(self) -> dict[str, str]:
        """The environment rabbitmq-server and rabbitmqctl run with (HOME holds the Erlang cookie)."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return {
            **keep,
            "HOME": str(self.base),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def running(self) -> bool:
        """Whether the node accepts AMQP connections."""
        return port_open(self.port)

    def ctl(self, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """rabbitmqctl -n <this node> ARGS."""
        done = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False, cwd=self.base)
        if check and done.returncode != 0:
            raise ServerError(f"rabbitmqctl {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
        return done

    def start(self, wait: bool = True) -> PrivateRabbit:
        """A new rabbitmq-server process (foreground, own session); returns once AMQP answers.

        wait=False returns at once (the node boots in ~5 s meanwhile); call wait_started() before use.
        """
        if self.proc is not None and self.proc.poll() is None:
            return self.wait_started() if wait else self
        _register(self)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env, cwd=self.base,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self.wait_started() if wait else self

    def wait_started(self) -> PrivateRabbit:
        """Block until the node started by start() accepts AMQP connections; ServerError if it died."""
        proc = self.proc
        if proc is None:
            raise ServerError("the node was never started")

        def up() -> bool:
            if proc.poll() is not None:
                raise ServerError(f"rabbitmq-server exited {proc.returncode}\n{_tail(self.log)}"
                                  f"\n{_tail(self.base / 'log' / f'{self.node}.log')}")
            return self.running and _amqp_answers(self.port)

        _wait(up, START_TIMEOUT_S, f"RabbitMQ node {self.node}", self.log)
        return self

    def stop(self) -> None:
        """rabbitmqctl stop (the node halts; every connection drops); returns once it is gone."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self.ctl("stop", check=False, timeout=STOP_TIMEOUT_S)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._kill()
        _wait(lambda: not self.running, STOP_TIMEOUT_S, f"RabbitMQ node {self.node} to stop", self.log)

    def _kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Down inside the block; started again when it ends, whatever happened inside."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def close(self) -> None:
        """Kill the node (it is thrown away: no graceful stop needed) and remove its directory."""
        self._kill()
        _unregister(self)
        shutil.rmtree(self.base, ignore_errors=True)


def _amqp_answers(port: int) -> bool:
    """Whether an AMQP 0-9-1 handshake as guest succeeds (the broker has finished booting)."""
    import pika

    params = pika.ConnectionParameters("127.0.0.1", port, credentials=pika.PlainCredentials("guest", "guest"),
                                       socket_timeout=2, blocked_connection_timeout=2,
                                       connection_attempts=1)
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


# --- both ----------------------------------------------------------------------------------------


@dataclass
class PrivateServers:
    """A started private PostgreSQL and RabbitMQ pair."""

    postgres: PrivatePostgres
    rabbit: PrivateRabbit


@contextlib.contextmanager
def private_servers(wait: bool = True) -> Iterator[PrivateServers]:
    """Start a private PostgreSQL and RabbitMQ (the node boots while PostgreSQL starts); close both at the end.

    wait=False yields as soon as PostgreSQL is up: call servers.rabbit.wait_started() before using
    the broker (work on the databases meanwhile).
    """
    servers = PrivateServers(PrivatePostgres(), PrivateRabbit())
    try:
        servers.rabbit.start(wait=False)
        servers.postgres.start()
        if wait:
            servers.rabbit.wait_started()
        yield servers
    finally:
        servers.rabbit.close()
        servers.postgres.close()
