"""Building blocks every generated workload shares: labels, env, resources, the pod, the Deployment.

Split out of deploy/k8s/generate.py (whose docstring explains every generated choice). Rules
these blocks carry, from that docstring: every pod runs as UID 10001 with a read-only root
filesystem, all capabilities dropped, RuntimeDefault seccomp and no service-account token (the
"restricted" Pod Security Standard); secrets are referenced from the Secret countyhub-secrets,
never written as values; scratch space is a memory-backed emptyDir (counted in the container's
memory limit). A Deployment surges one pod and never goes below its count during a rollout.
Units: seconds (grace periods, probe timings), CPU and memory as Kubernetes quantity strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from manifests_units import Unit

SECRET = "countyhub-secrets"
CONFIG = "countyhub-config"

Obj = dict[str, Any]


def labels(unit: Unit, component: str) -> dict[str, str]:
    """The labels every object of a service's component carries."""
    return {
        "app.kubernetes.io/name": unit.k8s,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "countyhub",
    }


def selector(unit: Unit, component: str) -> dict[str, str]:
    """The immutable selector of a component's pods."""
    return {"app.kubernetes.io/name": unit.k8s, "app.kubernetes.io/component": component}


def secret_env(*keys: str) -> list[Obj]:
    """Environment variables read from the countyhub-secrets Secret (never values)."""
    return [{"name": k, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": k}}} for k in keys]


def plain_env(values: dict[str, Any]) -> list[Obj]:
    """Literal environment variables."""
    return [{"name": k, "value": str(v)} for k, v in values.items()]


def resources(requests: tuple[str, str], limits: tuple[str, str]) -> Obj:
    """CPU and memory requests and limits."""
    return {
        "requests": {"cpu": requests[0], "memory": requests[1]},
        "limits": {"cpu": limits[0], "memory": limits[1]},
    }


CONTAINER_SECURITY: Obj = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def tmp_volume(name: str = "tmp", size: str = "64Mi") -> Obj:
    """A memory-backed emptyDir (counted in the container's memory limit)."""
    return {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": size}}


def exec_probe(command: list[str], period: int, timeout: int, failures: int) -> Obj:
    """A probe that runs a command in the container."""
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def pod_spec(
    containers: list[Obj],
    grace: int,
    *,
    volumes: list[Obj],
    restart: str | None = None,
    spread: list[Obj] | None = None,
) -> Obj:
    """The pod template's spec: restricted security, no token, our ServiceAccount."""
    spec: Obj = {
        "serviceAccountName": "countyhub",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": grace,
    }
    if restart:
        spec["restartPolicy"] = restart
    if spread:
        spec["topologySpreadConstraints"] = spread
    spec["containers"] = containers
    spec["volumes"] = volumes
    return spec


def spread_over(unit: Unit, component: str, keys: Sequence[str]) -> list[Obj]:
    """Spread a component's pods over zones and nodes, best effort."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(unit, component)},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in keys
    ]


def deployment(unit: Unit, component: str, pod: Obj, *, replicas: int | None = None) -> Obj:
    """A Deployment that surges one pod and never goes below its count during a rollout."""
    spec: Obj = {}
    if replicas is not None:
        spec["replicas"] = replicas
    spec.update(
        {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(unit, component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": labels(unit, component)}, "spec": pod},
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{unit.k8s}-{component}", "labels": labels(unit, component)},
        "spec": spec,
    }
