"""The Kubernetes manifests under deploy/k8s, rendered as an operator applies them, in step with the code.

Both overlays are rendered with `kubectl kustomize` (make k8s-validate checks schemas and policy;
these tests check what the hub itself needs: every registered service's processes, probes that
mean something, grace periods that fit the shutdown times, secrets by reference only, KEDA on
the queues the topology declares). The per-service files are generated from the service
registry (deploy/k8s/generate.py); a throwaway service name shows a new service is picked up.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("staging", "production")
SECRET = "countyhub-secrets"

Obj = dict[str, Any]


def load_module(name: str) -> ModuleType:
    """deploy/k8s/<name>.py as a module (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"k8s_{name}", K8S / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = load_module("generate")


@functools.cache
def rendered(overlay: str) -> list[Obj]:
    """The overlay as `kubectl kustomize` renders it."""
    out = subprocess.run(["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return [o for o in yaml.safe_load_all(out) if o]


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    """The one object of that kind and name."""
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def container(deployment: Obj) -> Obj:
    """The single container of a workload."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(c: Obj) -> dict[str, Obj]:
    """Container env by name."""
    return {e["name"]: e for e in c.get("env", [])}


@functools.cache
def registry_units() -> tuple[Any, ...]:
    """The units the generator derives from hub/registry.py."""
    return tuple(generate.units_from_registry())


# ---------------------------------------------------------------------------------------------
# generated from the registry


def test_committed_manifests_are_what_the_generator_produces() -> None:
    stale = generate.differences(generate.render(registry_units()))
    assert not stale, f"run `make k8s-generate`: {stale}"


def test_every_registered_service_is_generated_with_the_processes_its_spec_declares() -> None:
    from hub.registry import specs

    for spec in specs():
        unit = next(u for u in registry_units() if u.name == spec.name)
        assert unit.port == spec.port
        assert unit.consumes == bool(spec.handlers)
        assert unit.workers == bool(spec.workers)


def test_a_new_service_is_picked_up_by_naming_it(tmp_path: Path) -> None:
    """A throwaway service (API, consumer and worker) added to the units appears everywhere it should."""
    extra = generate.unit_for("zz_throwaway", 8099, consumes=True, workers=True)
    files = generate.render([*registry_units(), extra])
    copy = tmp_path / "k8s"
    subprocess.run(["cp", "-r", str(K8S), str(copy)], check=True)
    generate.write(files, copy / "base" / "services")
    out = subprocess.run(["kubectl", "kustomize", str(copy / "overlays" / "production")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    objs = [o for o in yaml.safe_load_all(out) if o]
    for kind, name in [("Deployment", "zz-throwaway-api"), ("Deployment", "zz-throwaway-relay"),
                       ("Deployment", "zz-throwaway-consumer"), ("Deployment", "zz-throwaway-worker"),
                       ("Service", "zz-throwaway"), ("HorizontalPodAutoscaler", "zz-throwaway-api"),
                       ("PodDisruptionBudget", "zz-throwaway-api"), ("Job", "zz-throwaway-migrate"),
                       ("ScaledObject", "zz-throwaway-consumer")]:
        find(objs, kind, name)
    assert find(objs, "ScaledObject", "zz-throwaway-consumer")["spec"]["triggers"][0]["metadata"][
        "queueName"] == "zz_throwaway.events"
    api = container(find(objs, "Deployment", "zz-throwaway-api"))
    assert api["args"][-1] == "services.zz_throwaway.wsgi:app"
    assert "ZZ_THROWAWAY_DATABASE_URL" in env_of(api)
    egress = find(objs, "NetworkPolicy", "countyhub-default")["spec"]["egress"][-1]["ports"][0]
    assert egress["port"] <= 8099 <= egress.get("endPort", egress["port"])
    # the production overlay's sizes reach the new service without naming it
    assert find(objs, "HorizontalPodAutoscaler", "zz-throwaway-api")["spec"]["minReplicas"] == 3
    validate = load_module("validate")
    report = validate.validate(copy, generated_check=False)
    assert report.ok, report.problems


def test_units_follow_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """units_from_registry reads hub.registry.specs(): a spec added there is generated."""
    import hub.registry
    from shared.runtime import ServiceSpec

    real = hub.registry.specs()
    fake = ServiceSpec(name="zz_registry_probe", port=8098, metadata=real[0].metadata,
                       create_app=real[0].create_app, migrations=real[0].migrations,
                       handlers={"formulary.item.changed": lambda *a: None})
    monkeypatch.setattr(hub.registry, "specs", lambda: [*real, fake])
    units = generate.units_from_registry()
    probe = next(u for u in units if u.name == "zz_registry_probe")
    assert (probe.port, probe.consumes, probe.workers) == (8098, True, False)
    assert "zz-registry-probe.yaml" in generate.render(units)


# ---------------------------------------------------------------------------------------------
# what every overlay contains


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_api_relay_migration_and_its_consumer_and_worker(overlay: str) -> None:
    objs = rendered(overlay)
    for unit in registry_units():
        find(objs, "Deployment", f"{unit.k8s}-api")
        find(objs, "Deployment", f"{unit.k8s}-relay")
        find(objs, "Job", f"{unit.k8s}-migrate")
        consumers = [o for o in objs if o["metadata"]["name"] == f"{unit.k8s}-consumer"]
        assert len(consumers) == (2 if unit.consumes else 0)  # Deployment + ScaledObject
        workers = [o for o in objs if o["metadata"]["name"] == f"{unit.k8s}-worker"]
        assert len(workers) == (1 if unit.workers else 0)
    find(objs, "Job", "countyhub-topology")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_every_consumer_on_the_queue_the_topology_declares(overlay: str) -> None:
    from shared.bus.topology import topology

    objs = rendered(overlay)
    queues = {q.service: q.queue for q in topology().values()}
    for unit in registry_units():
        if not unit.consumes:
            continue
        scaled = find(objs, "ScaledObject", f"{unit.k8s}-consumer")
        trigger = scaled["spec"]["triggers"][0]
        assert trigger["metadata"]["queueName"] == queues[unit.name]
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"{unit.k8s}-consumer"
        assert trigger["authenticationRef"]["name"] == "countyhub-rabbitmq"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_probes_and_graceful_shutdown_fit(overlay: str) -> None:
    objs = rendered(overlay)
    for unit in registry_units():
        dep = find(objs, "Deployment", f"{unit.k8s}-api")
        c = container(dep)
        env = {k: v.get("value") for k, v in env_of(c).items()}
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["ports"][0]["containerPort"] == unit.port == int(env["GUNICORN_BIND"].rsplit(":", 1)[1])
        assert c["args"][:3] == ["gunicorn", "--config", "python:shared.gunicorn_conf"]
        pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > pre_stop + int(env["GUNICORN_GRACEFUL_TIMEOUT"]), "SIGTERM must come before the kill"
        assert int(env["GUNICORN_WORKERS"]) >= 1 and int(env["GUNICORN_THREADS"]) >= 1
        # prometheus multiprocess files on their own emptyDir
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
        assert "replicas" not in dep["spec"], "the HPA owns an API's replica count"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_background_loops_have_heartbeat_liveness_and_readiness_on_what_they_need(overlay: str) -> None:
    objs = rendered(overlay)
    loops = [o for o in objs if o["kind"] == "Deployment"
             and o["metadata"]["labels"]["app.kubernetes.io/component"] in {"relay", "consumer", "worker"}]
    assert len(loops) >= 2 * len(registry_units())
    for dep in loops:
        c = container(dep)
        role = dep["metadata"]["labels"]["app.kubernetes.io/component"]
        env = {k: v.get("value") for k, v in env_of(c).items()}
        live = c["livenessProbe"]["exec"]["command"]
        assert live[:4] == ["python", "-m", "shared.heartbeat", "check"]
        assert env["HEARTBEAT_FILE"].startswith("/tmp/")  # on the writable emptyDir
        ready = c["readinessProbe"]["exec"]["command"]
        assert ready[:4] == ["python", "-m", "shared.heartbeat", "ready"]
        name = dep["metadata"]["labels"]["app.kubernetes.io/name"].replace("-", "_")
        needs_broker = role in {"relay", "consumer"} or generate.TUNING.get(name, generate.Tuning()).worker_needs_broker
        assert ("--broker" in ready) == needs_broker
        assert ("--database" in ready) == (role == "worker")
        grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > int(env["SHUTDOWN_GRACE_S"]), "the loop must finish before the kill"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_only_by_reference_and_each_pod_only_its_own_database(overlay: str) -> None:
    objs = rendered(overlay)
    assert not [o for o in objs if o["kind"] == "Secret"]
    for obj in objs:
        if obj["kind"] not in {"Deployment", "Job"}:
            continue
        name = obj["metadata"]["labels"]["app.kubernetes.io/name"]
        for c in obj["spec"]["template"]["spec"]["containers"]:
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == SECRET
                if env["name"].endswith("_DATABASE_URL"):
                    assert env["name"] == name.replace("-", "_").upper() + "_DATABASE_URL"
                    assert ref, "a database URL comes from the Secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_is_production_safe(overlay: str) -> None:
    config = next(o for o in rendered(overlay) if o["kind"] == "ConfigMap"
                  and o["metadata"]["name"].startswith("countyhub-config"))
    assert config["data"]["HUB_DEV_LOGIN"] == "0"
    assert "GUNICORN_CMD_ARGS" not in config["data"], "gunicorn settings are per service (GUNICORN_*)"


def test_overlays_set_image_namespace_and_sizes() -> None:
    for overlay, namespace, hpa_min in (("staging", "countyhub-staging", 1), ("production", "countyhub", 3)):
        objs = rendered(overlay)
        assert {o["metadata"].get("namespace") for o in objs if o["kind"] != "Namespace"} == {namespace}
        for o in objs:
            if o["kind"] == "HorizontalPodAutoscaler":
                assert o["spec"]["minReplicas"] == hpa_min
            if o["kind"] == "Deployment":
                assert container(o)["image"].startswith("registry.example.org/countyhub/countyhub:")
    assert find(rendered("production"), "Deployment", "dispatch-worker")["spec"]["replicas"] == 2
