"""The four services and where their parts live: the hub's composition root."""

from __future__ import annotations

import importlib

from shared.runtime import ServiceSpec

SERVICES = ("formulary", "procurement", "prescription_review", "dispatch")


def spec(name: str) -> ServiceSpec:
    """The ServiceSpec a service declares in services/<name>/app.py."""
    if name not in SERVICES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{name}.app")
    return module.SPEC  # type: ignore[no-any-return]
