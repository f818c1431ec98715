"""Fixtures shared by every test layer: a running embedded hub, tokens (helpers: tests/support/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.waiting import free_port

__all__ = ["free_port"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def running_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The whole hub on the embedded default, on free ports, seeded with the sample county."""
    from hub.embedded import start_hub
    from hub.registry import SERVICES

    data = tmp_path_factory.mktemp("hub")
    saved = {k: os.environ.get(k) for k in ("HUB_DATA_DIR", "BROKER_URL", "DATABASE_URL", "HUB_DEV_LOGIN")}
    os.environ["HUB_DATA_DIR"] = str(data)
    os.environ["HUB_DEV_LOGIN"] = "1"
    for key in ("BROKER_URL", "DATABASE_URL"):
        os.environ.pop(key, None)
    hub = start_hub(ports={name: free_port() for name in SERVICES}, seed=True)
    try:
        yield hub
    finally:
        hub.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def hub_token(running_hub: object):  # type: ignore[no-untyped-def]
    """token(role, site=None) -> a bearer header dict accepted by the running hub."""
    from shared.auth import issue_token
    from shared.config import load_settings

    secret = load_settings("formulary").jwt_secret

    def make(role: str, site: str | None = None, name: str | None = None) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(secret, role, site=site, subject=name, name=name)}

    return make
