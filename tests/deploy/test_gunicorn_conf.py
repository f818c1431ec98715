"""shared/gunicorn_conf.py: every setting from the environment, refused when it makes no sense."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    """The config module as gunicorn would import it with this environment."""
    for key in ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_TIMEOUT",
                "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_KEEPALIVE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop("shared.gunicorn_conf", None)
    return importlib.import_module("shared.gunicorn_conf")


def test_settings_come_from_the_environment_not_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    conf = load(monkeypatch, GUNICORN_BIND="0.0.0.0:8003", GUNICORN_WORKERS="3", GUNICORN_THREADS="8",
                GUNICORN_TIMEOUT="15", GUNICORN_GRACEFUL_TIMEOUT="12")
    assert (conf.bind, conf.workers, conf.threads, conf.timeout, conf.graceful_timeout) == ("0.0.0.0:8003", 3, 8, 15, 12)
    assert conf.worker_class == "shared.gunicorn_worker.DrainingThreadWorker" and conf.preload_app is False
    defaults = load(monkeypatch)
    assert (defaults.workers, defaults.threads) == (2, 4)  # not 2 * 64 + 1


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_senseless_worker_count_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ValueError):
        load(monkeypatch, GUNICORN_WORKERS=value)
    sys.modules.pop("shared.gunicorn_conf", None)


def test_on_starting_empties_the_metrics_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path)) / "prom"
    (directory / "sub").mkdir(parents=True)
    (directory / "counter_1.db").write_bytes(b"x")
    (directory / "sub" / "gauge_live_2.db").write_bytes(b"y")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    conf = load(monkeypatch)
    conf.on_starting(None)
    assert directory.is_dir() and not list(directory.iterdir())
