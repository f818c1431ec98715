"""The API process (gunicorn) and the objects around it: Deployment, Service, PDB, HPA, ingress rule.

Split out of deploy/k8s/generate.py (whose docstring explains every generated choice, "API"):
gunicorn runs with shared/gunicorn_conf.py and takes its workers, threads and timeouts from the
GUNICORN_* variables set here per service (manifests_units.Tuning; inside a pod
`os.cpu_count()` is the node's, so nothing is derived from it). terminationGracePeriodSeconds
= preStop sleep (PRE_STOP_S: the endpoints controller and kube-proxy drop the pod first) +
gunicorn's graceful timeout (in-flight requests finish) + a 10 s margin. No `replicas`: the HPA
owns the count, and a re-apply never resets it. /healthz is liveness, /readyz is readiness (its
own database only: the outbox keeps every write while the broker is away). Prometheus
multiprocess files live on their own memory emptyDir (METRICS_DIR), cleaned by gunicorn's
`on_starting` hook. Units: seconds; CPU and memory as Kubernetes quantity strings.
"""

from __future__ import annotations

from manifests_blocks import (
    CONFIG,
    CONTAINER_SECURITY,
    Obj,
    deployment,
    labels,
    plain_env,
    pod_spec,
    resources,
    secret_env,
    selector,
    spread_over,
    tmp_volume,
)
from manifests_units import Unit

METRICS_DIR = "/run/prometheus"
PRE_STOP_S = 5


def api(unit: Unit) -> list[Obj]:
    """The API Deployment (gunicorn), its Service, disruption budget, autoscaler and ingress rule."""
    t = unit.tuning
    http_get = {"httpGet": {"path": "/healthz", "port": "http"}}
    container = {
        "name": "api",
        "image": "countyhub",
        "imagePullPolicy": "IfNotPresent",
        "args": ["gunicorn", "--config", "python:shared.gunicorn_conf", f"services.{unit.name}.wsgi:app"],
        "ports": [{"name": "http", "containerPort": unit.port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": plain_env(
            {
                "GUNICORN_BIND": f"0.0.0.0:{unit.port}",
                "GUNICORN_WORKERS": t.gunicorn_workers,
                "GUNICORN_THREADS": t.gunicorn_threads,
                "GUNICORN_TIMEOUT": t.request_timeout_s,
                "GUNICORN_GRACEFUL_TIMEOUT": t.graceful_timeout_s,
                "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR,
            }
        )
        + secret_env(f"{unit.env_prefix}_DATABASE_URL", "BROKER_URL", "JWT_SECRET"),
        "resources": resources(t.api_requests, t.api_limits),
        "startupProbe": {**http_get, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 24},
        "livenessProbe": {**http_get, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3},
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 6,
            "failureThreshold": 3,
        },
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_S)]}}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "metrics", "mountPath": METRICS_DIR},
        ],
    }
    grace = PRE_STOP_S + t.graceful_timeout_s + 10
    pod = pod_spec(
        [container],
        grace,
        volumes=[tmp_volume(), tmp_volume("metrics", "32Mi")],
        spread=spread_over(unit, "api", ("topology.kubernetes.io/zone", "kubernetes.io/hostname")),
    )
    meta = {"name": f"{unit.k8s}-api", "labels": labels(unit, "api")}
    return [
        deployment(unit, "api", pod),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": unit.k8s, "labels": labels(unit, "api")},
            "spec": {
                "type": "ClusterIP",
                "selector": selector(unit, "api"),
                "ports": [{"name": "http", "port": unit.port, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta,
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(unit, "api")}},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{unit.k8s}-api"},
                "minReplicas": 2,
                "maxReplicas": 6,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                    }
                },
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{unit.k8s}-api-ingress", "labels": labels(unit, "api")},
            "spec": {
                "podSelector": {"matchLabels": selector(unit, "api")},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": unit.port}]}],
            },
        },
    ]
