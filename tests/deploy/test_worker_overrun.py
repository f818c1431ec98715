"""A solver stuck past its plan's time limit stops the worker's heartbeats (issue 12).

The plan worker beats from its own loop while the search runs in a thread. A search wedged in a
native call would keep that loop beating for ever; once the solve is OVERRUN_GRACE_S past its
limit the loop stops touching the stop event, so the liveness file goes stale and the kubelet
restarts the process (and the plan's own heartbeat stops, so another worker re-claims it).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from services.dispatch import worker
from shared.heartbeat import BeatingEvent, Heartbeat, age_seconds


def test_overran_only_past_the_limit_and_its_grace() -> None:
    assert not worker.overran(None, 10_000)  # limit not read yet
    assert not worker.overran(60, 60 + worker.OVERRUN_GRACE_S)
    assert worker.overran(60, 60 + worker.OVERRUN_GRACE_S + 0.1)


@pytest.mark.parametrize("stuck", [True, False])
def test_a_wedged_search_lets_the_liveness_heartbeat_go_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stuck: bool
) -> None:
    monkeypatch.setattr(worker, "OVERRUN_GRACE_S", 0.2)
    release = threading.Event()

    def wedged_solve(self: Any) -> None:
        self.limit_s = 0.1 if stuck else 60.0  # a plan's limit, as solve() reads it
        release.wait(3.0)  # the "native call" that does not return in time

    monkeypatch.setattr(worker._Run, "solve", wedged_solve)
    beat_file = tmp_path / "heartbeat"
    stop = BeatingEvent(Heartbeat(beat_file, "worker", every_s=0.0))
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(worker.run_plan(None, "p" * 36, "w-test", stop)))  # type: ignore[arg-type]
    runner.start()
    time.sleep(1.6)
    age = age_seconds(beat_file)
    release.set()
    runner.join(5)
    assert outcome == ["done"]
    assert age is not None
    if stuck:
        assert age > 1.0, "the worker kept beating while its search was stuck past its limit"
    else:
        assert age < 1.0, "a search within its limit must keep the heartbeat fresh"
