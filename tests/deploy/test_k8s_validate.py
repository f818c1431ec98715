"""`make k8s-validate` passes on the repository and fails on broken copies of it.

Each broken copy changes one thing in a copy of deploy/k8s (a misspelt field, a removed
apiVersion, a container without probes, an unpinned image, a secret value, a misspelt field of
an operator's resource, a root container, a missing memory limit, bad YAML) and the validator must
name the problem. Everything runs offline: kubectl renders, the schemas come with the
`kubernetes-validate` package and deploy/k8s/schemas/.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
GENERATED = "base/services"


def _validate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_validate", K8S / "validate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


validate = _validate_module()


def test_the_repository_passes() -> None:
    run = subprocess.run([sys.executable, str(K8S / "validate.py")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "all pass" in run.stdout


def broken_copy(tmp_path: Path, file: str, old: str, new: str, count: int = 1) -> Path:
    """A copy of deploy/k8s with `old` replaced by `new` in one file (staging dropped: one overlay is enough)."""
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(copy / "overlays" / "staging")
    path = copy / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return copy


BROKEN = {
    # a misspelt field of a built-in kind: strict schema validation
    "misspelt-field": (f"{GENERATED}/formulary.yaml", "readinessProbe:", "readinesProbe:",
                       "readinesProbe"),
    # PodDisruptionBudget policy/v1beta1 was removed in Kubernetes 1.25
    "removed-api-version": (f"{GENERATED}/procurement.yaml", "apiVersion: policy/v1\n",
                            "apiVersion: policy/v1beta1\n", "policy/v1beta1"),
    # HorizontalPodAutoscaler autoscaling/v2beta2 was removed in Kubernetes 1.26
    "removed-hpa-version": (f"{GENERATED}/dispatch.yaml", "apiVersion: autoscaling/v2\n",
                            "apiVersion: autoscaling/v2beta2\n", "autoscaling/v2beta2"),
    # a long-running container without probes: policy
    "no-probes": (f"{GENERATED}/formulary.yaml", "        livenessProbe:\n", "        x-removed-liveness:\n",
                  "no livenessProbe"),
    # an image on `latest`: policy
    "unpinned-image": ("overlays/production/kustomization.yaml", "newTag: 0.1.0", "newTag: latest",
                       "is not pinned"),
    # a password in the repository
    "secret-value": ("base/secret.example.yaml", "postgresql://formulary:CHANGE-ME@",
                     "postgresql://formulary:s3cr3t-Pa55@", "password"),
    # a misspelt field of an operator's resource (KEDA): CRD schema
    "crd-misspelt-field": (f"{GENERATED}/dispatch.yaml", "maxReplicaCount:", "maxReplicasCount:",
                           "maxReplicasCount"),
    # CloudNativePG Cluster with a wrong type: CRD schema
    "crd-wrong-type": ("components/infra/postgres.yaml", "instances: 3", "instances: three", "instances"),
    # a container that may run as root: policy
    "root": (f"{GENERATED}/procurement.yaml", "runAsUser: 10001", "runAsUser: 0", "root"),
    # no memory limit: policy
    "no-memory-limit": ("overlays/production/kustomization.yaml", "          limits:\n            cpu: \"2\"\n"
                        "            memory: 1Gi\n", "          limits:\n            cpu: \"2\"\n", "no memory limit"),
    # a literal secret in an env value
    "env-secret": (f"{GENERATED}/dispatch.yaml", "            - name: GUNICORN_WORKERS\n",
                   "            - name: API_TOKEN\n              value: abc123def\n"
                   "            - name: GUNICORN_WORKERS\n", "API_TOKEN"),
    # an alert whose PromQL does not parse
    "bad-promql": ("base/prometheusrule.yaml", "> 300\n", "> > 300\n", "PromQL"),
    # YAML that yamllint refuses (duplicate key)
    "bad-yaml": ("base/topology-job.yaml", "  backoffLimit: 10\n", "  backoffLimit: 10\n  backoffLimit: 11\n",
                 "yamllint"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_copy_fails_and_says_why(case: str, tmp_path: Path) -> None:
    file, old, new, expected = BROKEN[case]
    copy = broken_copy(tmp_path, file, old, new)
    report = validate.validate(copy, generated_check=False)
    assert not report.ok, f"{case}: the broken copy passed"
    assert any(expected in p for p in report.problems), report.problems
    if case == "no-probes":  # and the command line (make k8s-validate) exits non-zero, naming it
        run = subprocess.run([sys.executable, str(K8S / "validate.py"), "--dir", str(copy), "--no-generated-check"],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 1 and "no livenessProbe" in run.stderr, run.stdout


def test_installed_crds_can_replace_the_shipped_schemas(tmp_path: Path) -> None:
    """--crd-dir: the CRDs an operator exports from the cluster are applied, strictly, instead."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "scaledobjects.keda.sh"},
        "spec": {
            "group": "keda.sh",
            "names": {"kind": "ScaledObject", "plural": "scaledobjects"},
            "scope": "Namespaced",
            "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                    # a CRD version without cooldownPeriod: our ScaledObjects must fail against it
                    "spec": {"type": "object", "properties": {
                        "scaleTargetRef": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "minReplicaCount": {"type": "integer"}, "maxReplicaCount": {"type": "integer"},
                        "pollingInterval": {"type": "integer"}, "advanced": {"type": "object"},
                        "triggers": {"type": "array"}}},
                }}}}],
        },
    }
    import yaml

    (tmp_path / "keda.yaml").write_text(yaml.safe_dump(crd), encoding="utf-8")
    report = validate.validate(K8S, generated_check=False, crd_dir=tmp_path)
    assert not report.ok
    assert any("cooldownPeriod" in p and "ScaledObject" in p for p in report.problems), report.problems


def test_without_kubectl_it_says_how_to_get_it(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "PATH": str(tmp_path)}  # no kubectl anywhere on it
    run = subprocess.run([sys.executable, str(K8S / "validate.py"), "--no-generated-check"], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode != 0 and "kubectl is not installed" in run.stderr
