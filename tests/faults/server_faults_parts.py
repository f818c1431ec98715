"""Building blocks of the server fault tests: service processes, an HTTP client, request bodies.

`Proc` is one service process (gunicorn or a `countyhub` loop) with its log; `call` makes one HTTP
request on its own connection; `items_csv` and `prescription` are valid bodies for the formulary
import and for a screening that passes. The hub that puts them together is in
tests/faults/server_faults_support.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.formulary import sample_item

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RX_SITE, RX_ITEM, RX_QTY = "CW-H01", "YP000174", 7


def wait(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll until condition() is truthy; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Proc:
    """One service process (gunicorn or a countyhub loop) with its log."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra_env: str) -> Proc:
        """Start (again), output appended to the log; extra_env only for this run."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env={**self.env, **extra_env}, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        """Whether it runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def signal_group(self, sig: int) -> None:
        """Send a signal to its process group (gunicorn's workers too)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def tail(self) -> str:
        """The end of its log."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass(frozen=True)
class Reply:
    """One HTTP answer."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body or b"null")


def call(port: int, method: str, path: str, token: str | None = None, body: Any = None,
         raw: bytes | None = None, content_type: str = "application/json", timeout: float = 30.0) -> Reply:
    """One request on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Connection": "close"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        conn.close()


def multipart(csv: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the CSV as field `file`; (body, content type)."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="items.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n").encode() + csv + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def items_csv(codes: list[str]) -> bytes:
    """A UTF-8 CSV of valid, distinct items (own name and approval number: no likely-duplicate flags)."""
    rows = []
    for code in codes:
        letter, chunk, index = code[2], int(code[3:-4]), int(code[-4:])  # YP<letter><chunk><index>: distinct
        serial = (ord(letter) - 64) * 10**6 + chunk * 10**4 + index
        rows.append(sample_item(code, generic_name=f"故障测试药{code}", trade_name=None, nhsa_code=None,
                                approval_no=f"国药准字H{serial:08d}"))
    header = list(rows[0])
    lines = [",".join(header)] + [",".join("" if r[h] is None else str(r[h]) for h in header) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def prescription(number: str) -> dict[str, Any]:
    """A clean adult outpatient prescription at the county hospital: screening passes it."""
    from shared.clock import utcnow

    return {
        "prescription_no": number, "site_code": RX_SITE, "type": "outpatient", "issued_at": utcnow().isoformat(),
        "prescriber": {"id": "D001", "privileges": []},
        "patient": {"id": f"P-{number}", "age_years": 45, "sex": "F", "weight_kg": 58, "allergies": [],
                    "diagnoses": [{"code": "I10", "name": "原发性高血压"}]},
        "items": [{"item_code": RX_ITEM, "dose": 5, "dose_unit": "mg", "frequency": "qd", "route": "oral",
                   "days": 7, "quantity": RX_QTY}],
    }  # fmt: skip
