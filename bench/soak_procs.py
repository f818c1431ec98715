"""bench.soak's processes: the four APIs under gunicorn and their relay, consume and worker loops.

Everything runs as the generated Kubernetes Deployments run it (deploy/k8s/base/services/*.yaml):
`gunicorn --config python:shared.gunicorn_conf services.<name>.wsgi:app` with the Deployment's
settings (workers and threads may be lowered for a shared machine), and `countyhub relay|consume|
worker --service <name>` with a heartbeat file. A supervisor thread restarts any loop process that
exits or is killed, one second later, as the kubelet would (restartPolicy: Always); the restarts
are counted per process.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GENERATED = ROOT / "deploy" / "k8s" / "base" / "services"
SERVICES = ("formulary", "procurement", "prescription_review", "dispatch")
# Which loop processes each service runs in production (its generated Deployments).
LOOPS: dict[str, tuple[str, ...]] = {
    "formulary": ("relay",),
    "procurement": ("relay", "consume"),
    "prescription_review": ("relay", "consume", "worker"),
    "dispatch": ("relay", "consume", "worker"),
}
RESTART_DELAY_S = 1.0  # the supervisor's pause before restarting a dead loop process


def manifest_env(service: str, component: str) -> dict[str, str]:
    """The literal env of a service's generated Deployment (api, relay, consumer or worker)."""
    name = service.replace("_", "-")
    docs = yaml.safe_load_all((GENERATED / f"{name}.yaml").read_text(encoding="utf-8"))
    dep = next(d for d in docs if d and d["kind"] == "Deployment" and d["metadata"]["name"] == f"{name}-{component}")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_env(tmp: Path, db_urls: dict[str, str], broker_url: str, secret: str) -> dict[str, str]:
    """A clean environment for every process: the service databases, the broker, one JWT secret."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and k not in
           {"DATABASE_URL", "BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "HEARTBEAT_FILE", "JWT_SECRET_FILE"}}
    env.update({f"{name.upper()}_DATABASE_URL": url for name, url in db_urls.items()})
    env.update({"BROKER_URL": broker_url, "JWT_SECRET": secret, "HUB_DATA_DIR": str(tmp / "data"),
                "HUB_DEV_LOGIN": "0", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                "PATH": f"{BIN}:{env.get('PATH', '')}"})
    return env


@dataclass
class Proc:
    """One supervised process: how to start it, its log, how often it was (re)started."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    supervised: bool = True

    def start(self) -> None:
        """Start (again); output appended to the log."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.starts += 1

    @property
    def alive(self) -> bool:
        """Whether the process is running."""
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send a signal to the process (SIGKILL: no clean-up at all)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 40.0, signalled: bool = False) -> int | None:
        """SIGTERM (unless already sent: a second one could land while Python exits), SIGKILL after timeout; the exit code."""
        if self.proc is None:
            return None
        self.supervised = False
        if self.proc.poll() is None:
            if not signalled:
                self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(10)


@dataclass
class Api:
    """One service's gunicorn."""

    service: str
    port: int
    proc: Proc

    def get(self, path: str, timeout: float = 5.0) -> int:
        """Status of a GET (no auth), or 0 when the server does not answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            return int(response.status)
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()


@dataclass
class Fleet:
    """The hub's processes for one soak: APIs, loops and the supervisor that restarts loops."""

    tmp: Path
    env: dict[str, str]
    api_workers: int = 1
    apis: dict[str, Api] = field(default_factory=dict)
    loops: dict[str, Proc] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def countyhub(self, *args: str, timeout: float = 300) -> str:
        """Run a countyhub command to completion; its output (RuntimeError when it fails)."""
        done = subprocess.run([str(BIN / "countyhub"), *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"countyhub {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start_apis(self) -> None:
        """Every service's gunicorn on a free port; returns once each answers /healthz."""
        for service in SERVICES:
            port = free_port()
            settings = manifest_env(service, "api")
            workers = min(int(settings.get("GUNICORN_WORKERS", "2")), self.api_workers)
            settings.update({"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers),
                             "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / f"metrics-{service}")})
            argv = [str(BIN / "gunicorn"), "--config", "python:shared.gunicorn_conf", f"services.{service}.wsgi:app"]
            proc = Proc(f"{service}-api", argv, {**self.env, **settings}, self.tmp / f"{service}-api.log")
            proc.start()
            self.apis[service] = Api(service, port, proc)
        for api in self.apis.values():
            self._wait(lambda a=api: a.get("/healthz") == 200, 120, f"{api.service} to answer /healthz", api.proc)

    def start_loops(self) -> None:
        """Every relay, consumer and worker process, then the supervisor."""
        for service, roles in LOOPS.items():
            for role in roles:
                component = {"consume": "consumer"}.get(role, role)
                name = f"{service}-{component}"
                env = {**self.env, **manifest_env(service, component),
                       "HEARTBEAT_FILE": str(self.tmp / f"{name}.heartbeat")}
                if role == "consume":
                    env["LOG_LEVEL"] = "INFO"  # duplicates suppressed are counted from its log lines
                proc = Proc(name, [str(BIN / "countyhub"), role, "--service", service], env, self.tmp / f"{name}.log")
                proc.start()
                self.loops[name] = proc
        threading.Thread(target=self._supervise, name="soak-supervisor", daemon=True).start()

    def _supervise(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for proc in self.loops.values():
                    if proc.supervised and not proc.alive:
                        time.sleep(RESTART_DELAY_S)
                        if not self._stop.is_set():
                            proc.start()

    def kill(self, name: str) -> None:
        """SIGKILL a loop process; the supervisor starts it again a second later."""
        with self._lock:
            self.loops[name].signal(signal.SIGKILL)

    def restarts(self) -> dict[str, int]:
        """Loop process name -> how many times it was restarted."""
        return {name: p.starts - 1 for name, p in self.loops.items() if p.starts > 1}

    def dead_apis(self) -> list[str]:
        """APIs whose gunicorn master has exited."""
        return [s for s, a in self.apis.items() if not a.proc.alive]

    def ready(self) -> bool:
        """Whether every API answers /readyz with 200 (database and broker reachable)."""
        return all(api.get("/readyz", timeout=3) == 200 for api in self.apis.values())

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything (loops first); name -> exit code. Only the first call signals."""
        if self._stop.is_set():
            return {}
        self._stop.set()
        codes: dict[str, int | None] = {}
        with self._lock:
            for proc in self.loops.values():
                proc.supervised = False
                proc.signal(signal.SIGTERM)
            for name, proc in self.loops.items():
                codes[name] = proc.stop(signalled=True)
        for service, api in self.apis.items():
            codes[f"{service}-api"] = api.proc.stop()
        return codes

    @staticmethod
    def _wait(check: Any, timeout: float, what: str, proc: Proc) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if not proc.alive:
                raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}:\n{proc.log.read_text()[-3000:]}")
            time.sleep(0.2)
