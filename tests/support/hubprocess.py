"""`countyhub run` as a real process on free ports and its own data directory, and an HTTP client for it."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.support.formulary import sample_item
from tests.support.waiting import free_port

CONSUMERS = ("procurement", "prescription_review", "dispatch")
SERVICES = ("formulary", *CONSUMERS)
ROOT = Path(__file__).resolve().parents[2]
COUNTYHUB = [sys.executable, "-m", "hub.cli"]  # the `countyhub` console script, run from this checkout


class HubProcess:
    """`countyhub run --no-seed` in a subprocess, on free ports and its own data directory."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.ports = {name: free_port() for name in SERVICES}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and k != "BROKER_URL"},
            "HUB_DATA_DIR": str(data),
            "LOG_LEVEL": "ERROR",
            **{f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.data / "hub.log").open("ab")
        self.proc = subprocess.Popen([*COUNTYHUB, "run", "--no-seed"], cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited with {self.proc.returncode}: {(self.data / 'hub.log').read_text()[-3000:]}")
            if all(self._up(name) for name in SERVICES):
                return
            time.sleep(0.1)
        raise AssertionError("the hub did not come up within 90 s")

    def _up(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url(name)}/healthz", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def token(self, role: str, name: str) -> str:
        out = subprocess.run(
            [*COUNTYHUB, "token", "--role", role, "--name", name, "--subject", name],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=True,
        )
        return out.stdout.strip()

    def call(self, method: str, url: str, token: str, body: Any = None, files: bytes | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if files is not None:
            boundary = uuid.uuid4().hex
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
            data = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="items.csv"\r\n'
                f"Content-Type: text/csv\r\n\r\n".encode() + files + f"\r\n--{boundary}--\r\n".encode()
            )
        elif body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def csv_of(codes: list[str]) -> bytes:
    """A UTF-8 CSV of valid item rows."""
    rows = [sample_item(code, generic_name=f"测试药{code[-4:]}") for code in codes]
    header = list(rows[0].keys())
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    for row in rows:
        out.write(",".join(str(row[h]) for h in header) + "\n")
    return out.getvalue().encode("utf-8-sig")


