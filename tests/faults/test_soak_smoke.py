"""The soak machinery works: a very short `python -m bench.soak` with three faults loses nothing.

The real bench as a subprocess (private PostgreSQL and RabbitMQ, the four APIs under gunicorn,
every relay, consumer and worker process, the mixed load): 40 s of load, a consumer SIGKILLed,
a relay SIGKILLed and delivered events published again, in turn. Its FAULT lines are parsed and
must say that every event sent was delivered, none lost, none applied twice, and that it
recovered; the bench checks those numbers in the services' databases, so a lost or doubled event
fails this test (an inbox that stops recognising event ids does: its events count as lost).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAULT = re.compile(
    r"^FAULT (?P<name>\w+): sent (?P<sent>\d+), delivered (?P<delivered>\d+), lost (?P<lost>\d+), "
    r"duplicated effects (?P<duplicated>\d+), recovered in (?P<recovered>[\d.]+) s$",
    re.M,
)


def parse_faults(output: str) -> dict[str, dict[str, float]]:
    """FAULT lines of a soak's output: name -> sent, delivered, lost, duplicated, recovered."""
    return {m["name"]: {k: float(m[k]) for k in ("sent", "delivered", "lost", "duplicated", "recovered")}
            for m in FAULT.finditer(output)}


def test_the_parser_reads_a_bad_line_as_bad() -> None:
    line = "FAULT relay_kill: sent 12, delivered 11, lost 1, duplicated effects 2, recovered in 3.5 s"
    assert parse_faults(line) == {"relay_kill": {"sent": 12, "delivered": 11, "lost": 1, "duplicated": 2, "recovered": 3.5}}
    assert parse_faults("FAULT x: sent 1, delivered 1, lost 0, duplicated effects 0, recovered in never (timed out) s") == {}


@pytest.mark.timeout(900)
def test_a_short_soak_with_faults_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--duration", "40", "--baseline", "10", "--clients", "4",
         "--faults", "consumer_kill,relay_kill,duplicates", "--logs", str(tmp_path / "logs")],
        cwd=ROOT, capture_output=True, text=True, timeout=840,
    )
    output = run.stdout
    faults = parse_faults(output)
    assert set(faults) == {"consumer_kill", "relay_kill", "duplicates"}, f"{output}\n{run.stderr[-3000:]}"
    for name, f in faults.items():
        assert f["sent"] > 0, f"{name}: no event was sent during the fault, it proved nothing\n{output}"
        assert f["lost"] == 0 and f["delivered"] == f["sent"], f"{name} lost events\n{output}"
        assert f["duplicated"] == 0, f"{name} applied events twice\n{output}"
    assert "lost 0, duplicated effects 0" in output.split("events (whole run", 1)[1].splitlines()[0]
    hits = int(output.split("duplicates suppressed (inbox hits, from the consumers' logs): ", 1)[1].split()[0])
    assert hits > 0, "the re-published events were not suppressed by the inboxes (or not counted)"
    assert run.returncode == 0, f"{output}\n{run.stderr[-3000:]}"
