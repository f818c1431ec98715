"""Running services as production runs them: gunicorn with shared/gunicorn_conf.py and the generated
Deployment's settings, `countyhub` commands as subprocesses (deployment tests, tests/deploy/)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.waiting import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GENERATED = ROOT / "deploy" / "k8s" / "base" / "services"
JWT_SECRET = "deploy-tests-" + "x" * 40


def manifest_env(service: str, component: str = "api") -> dict[str, str]:
    """The literal env of a service's generated Deployment (the production settings)."""
    name = service.replace("_", "-")
    docs = yaml.safe_load_all((GENERATED / f"{name}.yaml").read_text(encoding="utf-8"))
    dep = next(d for d in docs if d and d["kind"] == "Deployment" and d["metadata"]["name"] == f"{name}-{component}")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def base_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean process environment: no embedded fallbacks, logs quiet, data in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and k not in
           {"DATABASE_URL", "BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "HEARTBEAT_FILE"}}
    env.update({"HUB_DATA_DIR": str(tmp / "data"), "JWT_SECRET": JWT_SECRET, "HUB_DEV_LOGIN": "0",
                "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", "PATH": f"{BIN}:{env.get('PATH', '')}"})
    env.update(extra)
    return env


@dataclass
class Gunicorn:
    """A gunicorn master running one service with the production config."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> tuple[int, bytes]:
        """One request on its own connection (no keep-alive)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = {"Connection": "close", **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (graceful) and wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_gunicorn(service: str, env: dict[str, str], tmp: Path, **overrides: str) -> Gunicorn:
    """`gunicorn --config python:shared.gunicorn_conf services.<service>.wsgi:app` on a free port."""
    port = free_port()
    settings = {**manifest_env(service), **overrides}
    settings["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    settings["PROMETHEUS_MULTIPROC_DIR"] = overrides.get("PROMETHEUS_MULTIPROC_DIR", str(tmp / f"metrics-{port}"))
    log = tmp / f"gunicorn-{port}.log"
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "python:shared.gunicorn_conf", f"services.{service}.wsgi:app"],
        cwd=ROOT, env={**env, **settings}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    server = Gunicorn(proc, port, log, settings)

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return server.request("GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    wait_until(up, timeout=60, interval=0.2, what="gunicorn to answer /healthz")
    return server


def countyhub(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a countyhub command to completion; fail the test with its output if it fails."""
    run = subprocess.run([str(BIN / "countyhub"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout)
    if run.returncode != 0:
        pytest.fail(f"countyhub {' '.join(args)} exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    return run


def wait_for(condition: Any, timeout: float = 30.0, what: str = "") -> Any:
    """wait_until with a longer default, for processes on a shared machine."""
    return wait_until(condition, timeout=timeout, interval=0.1, what=what)


def token() -> str:
    """A fresh random suffix for codes."""
    return secrets.token_hex(3).upper()

