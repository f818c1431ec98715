"""The services of the hub and where their parts live: the composition root.

Adding a service means adding its name here and its folder `services/<name>/` with an `app.py`
that declares `SPEC = ServiceSpec(...)`. The ports table, the broker topology, the embedded hub,
the CLI and the deployment manifests are all derived from these specs.
"""

from __future__ import annotations

import importlib

from shared.runtime import ServiceSpec

SERVICES: tuple[str, ...] = ("formulary", "procurement", "prescription_review", "dispatch")


def spec(name: str) -> ServiceSpec:
    """The ServiceSpec a service declares in services/<name>/app.py; KeyError for an unknown name."""
    if name not in SERVICES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{name}.app")
    found = module.SPEC
    if found.name != name:
        raise RuntimeError(f"services/{name}/app.py declares SPEC.name={found.name!r}")
    return found  # type: ignore[no-any-return]


def specs() -> list[ServiceSpec]:
    """Every registered service's spec, in registry order."""
    return [spec(name) for name in SERVICES]


def ports() -> dict[str, int]:
    """Service name -> HTTP port, from the specs (duplicates are refused)."""
    out = {s.name: s.port for s in specs()}
    clashes = {p for p in out.values() if list(out.values()).count(p) > 1}
    if clashes:
        raise RuntimeError(f"two services declare the same port: {sorted(clashes)}")
    return out
