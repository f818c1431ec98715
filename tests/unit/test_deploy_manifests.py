"""The Kubernetes manifests under deploy/k8s: well-formed, complete, and in step with the code.

Static checks read the YAML files themselves. Where `kubectl` or `kustomize` is installed, both
overlays are also rendered and the result checked; without either, the render is left out and
everything else still runs.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.bus.topology import TOPOLOGY
from shared.config import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
INFRA = K8S / "components" / "infra"
OVERLAYS = {"staging": K8S / "overlays" / "staging", "production": K8S / "overlays" / "production"}
SECRET = "countyhub-secrets"
CONSUMER_QUEUES = ("procurement.events", "prescription_review.events", "dispatch.events")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}

Doc = dict[str, Any]


def k8s_name(service: str) -> str:
    """A service's name as Kubernetes objects spell it (DNS labels take no underscore)."""
    return service.replace("_", "-")


def yaml_files() -> list[Path]:
    """Every YAML file under deploy/k8s."""
    return sorted([*K8S.rglob("*.yaml"), *K8S.rglob("*.yml")])


def load_docs(path: Path) -> list[Any]:
    """The non-empty documents of a (multi-document) YAML file."""
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def kustomization_files() -> list[Path]:
    """Every kustomization file under deploy/k8s."""
    return sorted(
        p for p in K8S.rglob("*") if p.name in {"kustomization.yaml", "kustomization.yml", "Kustomization"}
    )


def kustomization_docs(directory: Path) -> list[Doc]:
    """The objects a kustomization lists (resources and components, recursively), unpatched."""
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    docs: list[Doc] = []
    for entry in [*kustomization.get("resources", []), *kustomization.get("components", [])]:
        target = (directory / entry).resolve()
        if not target.exists():
            continue  # reported by test_kustomization_references_exist
        docs += kustomization_docs(target) if target.is_dir() else load_docs(target)
    return docs


BASE_DOCS = kustomization_docs(BASE)
INFRA_DOCS = kustomization_docs(INFRA)


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    """The one object of a kind and name."""
    found = [d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def pod_spec(doc: Doc) -> Doc:
    """The pod spec inside a workload object."""
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def containers(spec: Doc) -> list[Doc]:
    """Init and regular containers of a pod spec."""
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def walk(node: Any) -> Iterator[Any]:
    """Every dict and list inside a parsed document, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def secret_refs(docs: list[Doc]) -> list[tuple[str, Doc]]:
    """(object name, reference) for every secretKeyRef and envFrom secretRef in the documents."""
    refs = []
    for doc in docs:
        for node in walk(doc):
            if isinstance(node, dict):
                for key in ("secretKeyRef", "secretRef"):
                    if isinstance(node.get(key), dict):
                        refs.append((doc["metadata"]["name"], node[key]))
    return refs


def resolve_port(container: Doc, port: int | str) -> int:
    """A probe's or Service's port as a number, looking a named port up in the container."""
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert named, f"container {container['name']} has no port named {port!r}"
    return int(named[0])


def example_secret_keys() -> set[str]:
    """The keys that base/secret.example.yaml documents for countyhub-secrets."""
    secret = find(load_docs(BASE / "secret.example.yaml"), "Secret", SECRET)
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))


# --- every file ------------------------------------------------------------------------------


def test_there_are_manifests() -> None:
    assert yaml_files(), "no YAML under deploy/k8s"
    assert (BASE / "kustomization.yaml").is_file()
    for overlay in OVERLAYS.values():
        assert (overlay / "kustomization.yaml").is_file()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_document_has_api_version_kind_and_name(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} holds no document"
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], f"{path}: apiVersion missing"
        assert isinstance(doc.get("kind"), str) and doc["kind"], f"{path}: kind missing"
        name = (doc.get("metadata") or {}).get("name")
        assert isinstance(name, str) and name, f"{path}: {doc['kind']} without metadata.name"


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_references_exist(path: Path) -> None:
    kustomization = load_docs(path)[0]
    directory = path.parent
    referenced: list[str] = [*kustomization.get("resources", []), *kustomization.get("components", [])]
    referenced += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    referenced += kustomization.get("patchesStrategicMerge", [])
    for generator in [
        *kustomization.get("configMapGenerator", []),
        *kustomization.get("secretGenerator", []),
    ]:
        referenced += list(generator.get("envs", []))
        referenced += [f.split("=", 1)[-1] for f in generator.get("files", [])]
    assert referenced, f"{path} references nothing"
    for entry in referenced:
        target = directory / entry
        assert target.exists(), f"{path}: {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{path}: {entry} has no kustomization.yaml"
        assert not entry.endswith(".example.yaml"), f"{path}: example files must not be applied ({entry})"


# --- the workloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_api_deployment_probes_its_service_port(service: str) -> None:
    port = SERVICE_PORTS[service]
    deployment = find(BASE_DOCS, "Deployment", f"{k8s_name(service)}-api")
    (container,) = pod_spec(deployment)["containers"]
    command = " ".join([*container.get("command", []), *container.get("args", [])])
    assert f"services.{service}.wsgi:app" in command and f":{port}" in command, command
    assert port in [p["containerPort"] for p in container["ports"]]

    liveness, readiness, startup = (
        container.get(k) for k in ("livenessProbe", "readinessProbe", "startupProbe")
    )
    assert liveness and liveness["httpGet"]["path"] == "/healthz"
    assert readiness and readiness["httpGet"]["path"] == "/readyz"
    assert startup and "httpGet" in startup
    for probe in (liveness, readiness, startup):
        assert resolve_port(container, probe["httpGet"]["port"]) == port
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod_spec(deployment).get("topologySpreadConstraints")

    service_obj = find(BASE_DOCS, "Service", k8s_name(service))
    (svc_port,) = service_obj["spec"]["ports"]
    assert svc_port["port"] == port
    assert resolve_port(container, svc_port["targetPort"]) == port
    assert (
        service_obj["spec"]["selector"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )

    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
        find(BASE_DOCS, kind, f"{k8s_name(service)}-api")


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_every_service_has_its_relay_migration_and_consumer(service: str) -> None:
    def runs(doc: Doc, *words: str) -> bool:
        (container,) = pod_spec(doc)["containers"]
        return [*container.get("command", []), *container.get("args", [])] == list(words)

    name = k8s_name(service)
    assert runs(find(BASE_DOCS, "Deployment", f"{name}-relay"), "countyhub", "relay", "--service", service)
    assert runs(find(BASE_DOCS, "Job", f"{name}-migrate"), "countyhub", "migrate", "--service", service)
    consumers = [
        d for d in BASE_DOCS if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{name}-consumer"
    ]
    if service in TOPOLOGY:
        assert len(consumers) == 1
        assert runs(consumers[0], "countyhub", "consume", "--service", service)
    else:
        assert not consumers, f"{service} consumes nothing and needs no consumer"


def test_topology_job_and_routing_worker() -> None:
    (topology,) = pod_spec(find(BASE_DOCS, "Job", "countyhub-topology"))["containers"]
    assert topology["args"] == ["countyhub", "topology"]
    (worker,) = pod_spec(find(BASE_DOCS, "Deployment", "dispatch-worker"))["containers"]
    assert worker["args"] == ["countyhub", "worker", "--service", "dispatch"]
    assert worker["resources"]["requests"]["cpu"]


def _workloads() -> list[tuple[str, Doc]]:
    return [
        (f"{path.relative_to(K8S)}:{doc['metadata']['name']}", doc)
        for path in yaml_files()
        for doc in load_docs(path)
        if isinstance(doc, dict) and doc.get("kind") in WORKLOAD_KINDS
    ]


@pytest.mark.parametrize("where,doc", _workloads(), ids=[w for w, _ in _workloads()])
def test_every_container_runs_as_non_root(where: str, doc: Doc) -> None:
    spec = pod_spec(doc)
    pod_ctx = spec.get("securityContext") or {}
    assert spec.get("automountServiceAccountToken") is False, where
    writable = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
    for container in containers(spec):
        ctx = container.get("securityContext") or {}
        assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, f"{where}/{container['name']}"
        assert ctx.get("runAsUser", pod_ctx.get("runAsUser", 1)) != 0, f"{where}/{container['name']}"
        assert ctx.get("allowPrivilegeEscalation") is False, f"{where}/{container['name']}"
        assert ctx.get("readOnlyRootFilesystem") is True, f"{where}/{container['name']}"
        assert ctx.get("capabilities", {}).get("drop") == ["ALL"], f"{where}/{container['name']}"
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        assert tmp and tmp[0]["name"] in writable, f"{where}/{container['name']}: /tmp is not an emptyDir"


# --- autoscaling -----------------------------------------------------------------------------


def test_the_consumer_queues_are_the_topologys() -> None:
    assert {spec.queue for spec in TOPOLOGY.values()} == set(CONSUMER_QUEUES)


@pytest.mark.parametrize("queue", CONSUMER_QUEUES)
def test_every_consumer_queue_has_a_keda_scaled_object(queue: str) -> None:
    service = queue.removesuffix(".events")
    scaled = [
        d
        for d in BASE_DOCS
        if d["kind"] == "ScaledObject"
        and d["apiVersion"] == "keda.sh/v1alpha1"
        and any(
            t["type"] == "rabbitmq" and t["metadata"].get("queueName") == queue for t in d["spec"]["triggers"]
        )
    ]
    assert len(scaled) == 1, f"{queue}: {len(scaled)} ScaledObjects"
    obj = scaled[0]
    (trigger,) = obj["spec"]["triggers"]
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert int(trigger["metadata"]["value"]) > 0
    assert (
        obj["spec"]["minReplicaCount"] >= 1
        and obj["spec"]["maxReplicaCount"] > obj["spec"]["minReplicaCount"]
    )

    target = find(BASE_DOCS, "Deployment", obj["spec"]["scaleTargetRef"]["name"])
    (container,) = pod_spec(target)["containers"]
    assert container["args"] == ["countyhub", "consume", "--service", service]
    assert "replicas" not in target["spec"], "KEDA owns the consumer's replica count"

    auth = find(BASE_DOCS, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert refs["host"]["name"] == SECRET and refs["host"]["key"] == "BROKER_URL"


def test_api_autoscalers_target_their_deployments_on_cpu() -> None:
    hpas = [d for d in BASE_DOCS if d["kind"] == "HorizontalPodAutoscaler"]
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas} == {
        f"{k8s_name(s)}-api" for s in SERVICE_PORTS
    }
    for hpa in hpas:
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"


# --- secrets, config, network ------------------------------------------------------------------


def test_secret_references_point_at_countyhub_secrets() -> None:
    refs = secret_refs(BASE_DOCS + INFRA_DOCS)
    assert refs
    documented = example_secret_keys()
    for owner, ref in refs:
        assert ref["name"] == SECRET, f"{owner} refers to Secret {ref['name']!r}"
        if "key" in ref:
            assert ref["key"] in documented, f"{owner}: key {ref['key']} is not in secret.example.yaml"
    for doc in BASE_DOCS + INFRA_DOCS:
        if doc["kind"] == "TriggerAuthentication":
            assert all(r["name"] == SECRET for r in doc["spec"]["secretTargetRef"])
        assert doc["kind"] != "Secret", "Secret values are never part of the kustomization"


def test_pods_get_only_their_own_database_url() -> None:
    urls = {f"{s.upper()}_DATABASE_URL": k8s_name(s) for s in SERVICE_PORTS}
    assert set(urls) <= example_secret_keys()
    for doc in BASE_DOCS:
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for container in containers(pod_spec(doc)):
            for env in container.get("env", []):
                owner = urls.get(env["name"])
                if owner is not None:
                    assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == owner, doc["metadata"][
                        "name"
                    ]
                    assert env["valueFrom"]["secretKeyRef"]["key"] == env["name"]


def test_config_is_production_safe() -> None:
    base = load_docs(BASE / "kustomization.yaml")[0]
    (generator,) = base["configMapGenerator"]
    values = dict(
        line.split("=", 1)
        for env_file in generator["envs"]
        for line in (BASE / env_file).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert values["HUB_DEV_LOGIN"] == "0"
    assert {"LOG_LEVEL", "BUS_PREFETCH", "BUS_MAX_RETRIES"} <= set(values)
    assert not {"JWT_SECRET", "BROKER_URL", "DATABASE_URL"} & set(values)


def test_network_policies_open_api_ports_and_allow_database_broker_and_dns() -> None:
    policies = [d for d in BASE_DOCS if d["kind"] == "NetworkPolicy"]
    egress_ports = {
        port["port"]
        for policy in policies
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    assert {5432, 5672, 53} <= egress_ports
    ingress_ports = {
        port["port"]
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
        for port in rule.get("ports", [])
    }
    assert set(SERVICE_PORTS.values()) <= ingress_ports
    monitor = find(BASE_DOCS, "ServiceMonitor", "countyhub-api")
    assert [e["path"] for e in monitor["spec"]["endpoints"]] == ["/metrics"]


# --- PostgreSQL and RabbitMQ -------------------------------------------------------------------


def test_infra_gives_every_service_a_database_and_runs_three_rabbitmq_nodes() -> None:
    cluster = find(INFRA_DOCS, "Cluster", "countyhub-pg")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    databases = {initdb["database"]: initdb["owner"]}
    for doc in INFRA_DOCS:
        if doc["kind"] == "Database":
            assert doc["spec"]["cluster"]["name"] == "countyhub-pg"
            databases[doc["spec"]["name"]] = doc["spec"]["owner"]
    assert databases == {s: s for s in SERVICE_PORTS}
    managed = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    assert managed | {initdb["owner"]} == set(SERVICE_PORTS)

    rabbit = find(INFRA_DOCS, "RabbitmqCluster", "countyhub-rabbitmq")
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1"
    assert rabbit["spec"]["replicas"] == 3


# --- overlays --------------------------------------------------------------------------------


def test_overlays_set_image_namespace_and_production_sizes() -> None:
    for overlay in OVERLAYS.values():
        kustomization = load_docs(overlay / "kustomization.yaml")[0]
        assert kustomization["namespace"]
        (image,) = kustomization["images"]
        assert image["name"] == "countyhub" and image["newTag"]
    production = load_docs(OVERLAYS["production"] / "kustomization.yaml")[0]
    replicas = {r["name"]: r["count"] for r in production["replicas"]}
    assert all(replicas[f"{k8s_name(s)}-api"] == 3 for s in SERVICE_PORTS)
    patches = " ".join(p.get("patch", "") for p in production["patches"])
    assert "/spec/minAvailable" in patches and "/spec/minReplicas" in patches


def _renderer() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def render(overlay: Path, renderer: list[str]) -> list[Doc]:
    """The overlay as the cluster would receive it."""
    out = subprocess.run([*renderer, str(overlay)], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


@pytest.mark.parametrize("env", sorted(OVERLAYS))
def test_overlay_renders_into_a_consistent_deployment(env: str) -> None:
    renderer = _renderer()
    if renderer is None:
        # Neither kubectl nor kustomize on this machine: the static checks above cover the files.
        return
    docs = render(OVERLAYS[env], renderer)
    namespace = load_docs(OVERLAYS[env] / "kustomization.yaml")[0]["namespace"]
    (image,) = load_docs(OVERLAYS[env] / "kustomization.yaml")[0]["images"]
    expected_image = f"{image.get('newName', image['name'])}:{image['newTag']}"

    config_maps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    for doc in docs:
        assert doc["kind"] != "Secret"
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, f"{doc['kind']} {doc['metadata']['name']}"
        if doc["kind"] in WORKLOAD_KINDS:
            for container in containers(pod_spec(doc)):
                assert container["image"] == expected_image
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        assert source["configMapRef"]["name"] in config_maps
    for _, ref in secret_refs(docs):
        assert ref["name"] == SECRET

    scaled = {
        t["metadata"]["queueName"] for d in docs if d["kind"] == "ScaledObject" for t in d["spec"]["triggers"]
    }
    assert scaled == set(CONSUMER_QUEUES)

    if env == "production":
        for service in SERVICE_PORTS:
            name = f"{k8s_name(service)}-api"
            assert find(docs, "Deployment", name)["spec"]["replicas"] == 3
            pdb = find(docs, "PodDisruptionBudget", name)["spec"]
            assert pdb["minAvailable"] == 2 and "maxUnavailable" not in pdb
            hpa = find(docs, "HorizontalPodAutoscaler", name)["spec"]
            assert hpa["minReplicas"] == 3 and hpa["maxReplicas"] > 3
