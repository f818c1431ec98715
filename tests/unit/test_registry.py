"""Adding a service touches the registry and its own folder only: a throwaway ServiceSpec,
registered by name, is picked up by the ports table, the broker topology, the CLI, the embedded
hub's list and the Kubernetes manifests without anything else being edited."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import hub.registry as registry
from shared.db import new_metadata
from shared.runtime import ServiceSpec

ROOT = Path(__file__).resolve().parents[2]
NAME = "zz_throwaway"


def _on_item(session: Any, payload: dict[str, Any], event: Any) -> None:
    """A handler the throwaway service declares."""


def _no_app(ctx: Any) -> Any:
    raise NotImplementedError


def _no_worker(ctx: Any, stop: Any) -> None:
    """A background loop the throwaway service declares."""


@pytest.fixture
def throwaway(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceSpec]:
    """services/zz_throwaway/app.py with its SPEC, and its name in the registry (nothing else)."""
    spec = ServiceSpec(
        name=NAME, port=8099, label="试用服务 throwaway", metadata=new_metadata(), create_app=_no_app,
        migrations=ROOT / "services" / NAME / "migrations",
        handlers={"formulary.item.published": _on_item, "dispatch.stop.completed": _on_item},
        workers=(_no_worker,),
    )
    package, module = types.ModuleType(f"services.{NAME}"), types.ModuleType(f"services.{NAME}.app")
    module.SPEC = spec  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"services.{NAME}", package)
    monkeypatch.setitem(sys.modules, f"services.{NAME}.app", module)
    monkeypatch.setattr(registry, "SERVICES", (*registry.SERVICES, NAME))
    yield spec


def test_ports_come_from_the_specs(throwaway: ServiceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import config

    assert registry.ports()[NAME] == 8099
    assert config.SERVICE_PORTS[NAME] == 8099
    assert config.SERVICE_PORTS["formulary"] == 8001 and len(set(config.SERVICE_PORTS.values())) == len(registry.SERVICES)
    monkeypatch.delenv(f"{NAME.upper()}_PORT", raising=False)
    monkeypatch.delenv(f"{NAME.upper()}_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config.load_settings(NAME).port == 8099


def test_two_services_on_one_port_are_refused(throwaway: ServiceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    monkeypatch.setattr(sys.modules[f"services.{NAME}.app"], "SPEC", replace(throwaway, port=8001))
    with pytest.raises(RuntimeError, match="same port"):
        registry.ports()


def test_the_topology_binds_exactly_the_handled_event_types(throwaway: ServiceSpec) -> None:
    from shared.bus.topology import TOPOLOGY, consumers_of

    queues = TOPOLOGY[NAME]
    assert queues.bindings == ("dispatch.stop.completed", "formulary.item.published")
    assert queues.queue == f"{NAME}.events" and queues.dead_letter_queue == f"{NAME}.dlq"
    assert NAME in consumers_of("formulary.item.published")
    assert NAME not in consumers_of("formulary.site.upserted")


def test_the_cli_and_the_embedded_hub_know_it(throwaway: ServiceSpec) -> None:
    from hub.cli import build_parser

    args = build_parser().parse_args(["migrate", "--service", NAME])
    assert args.service == [NAME]
    assert build_parser().parse_args(["consume", "--service", NAME]).service == NAME
    assert [s.name for s in registry.specs()][-1] == NAME  # start_hub walks registry.specs()


def test_the_kubernetes_manifests_pick_it_up(throwaway: ServiceSpec) -> None:
    module_spec = importlib.util.spec_from_file_location("k8s_generate_registry_test", ROOT / "deploy" / "k8s" / "generate.py")
    assert module_spec and module_spec.loader
    generate = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = generate
    try:
        module_spec.loader.exec_module(generate)
        units = {u.name: u for u in generate.units_from_registry()}
        assert (units[NAME].port, units[NAME].consumes, units[NAME].workers) == (8099, True, True)
        files = generate.render(list(units.values()))
    finally:
        sys.modules.pop(module_spec.name, None)
    objects = [o for o in yaml.safe_load_all(files["zz-throwaway.yaml"]) if o]
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Deployment", "zz-throwaway-api"), ("Deployment", "zz-throwaway-consumer"),
            ("Deployment", "zz-throwaway-worker"), ("Service", "zz-throwaway")} <= names  # fmt: skip
    assert "zz-throwaway.yaml" in yaml.safe_load(files["kustomization.yaml"].split("---\n", 1)[1])["resources"]
