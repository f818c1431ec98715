"""The migration Job: `countyhub migrate --service <name>` once per release, before the rollout.

Split out of deploy/k8s/generate.py (whose docstring explains every generated choice). A Job,
not an initContainer: replicas starting together would race on the same DDL. Its pod template
is immutable, so the upgrade steps in deploy/k8s/README.md delete the finished Job first.
It connects as the database's owner (<SERVICE>_OWNER_DATABASE_URL) and grants the pods' role
<service>_app only what it needs (audit tables: SELECT, INSERT; issue 13). Units: seconds
(activeDeadlineSeconds, ttlSecondsAfterFinished, grace), CPU and memory as Kubernetes strings.
"""

from __future__ import annotations

from manifests_blocks import (
    CONFIG,
    CONTAINER_SECURITY,
    SECRET,
    Obj,
    labels,
    plain_env,
    pod_spec,
    resources,
    secret_env,
    tmp_volume,
)
from manifests_units import Unit


def migrate_job(unit: Unit) -> Obj:
    """`countyhub migrate --service <name>` once per release (phase pre-rollout)."""
    job_labels = {**labels(unit, "migration"), "countyhub/phase": "pre-rollout"}
    container = {
        "name": "migrate",
        "image": "countyhub",
        "imagePullPolicy": "IfNotPresent",
        "args": ["countyhub", "migrate", "--service", unit.name],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        # Migrations run as the database's owner; the pods connect as <service>_app, which
        # `countyhub migrate` grants only what it needs (audit tables: SELECT, INSERT; issue 13).
        "env": [
            {
                "name": f"{unit.env_prefix}_DATABASE_URL",
                "valueFrom": {
                    "secretKeyRef": {"name": SECRET, "key": f"{unit.env_prefix}_OWNER_DATABASE_URL"}
                },
            },
            *plain_env({f"{unit.env_prefix}_DATABASE_APP_ROLE": f"{unit.name}_app"}),
            *secret_env("JWT_SECRET"),
        ],
        "resources": resources(("100m", "128Mi"), ("500m", "384Mi")),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{unit.k8s}-migrate", "labels": job_labels},
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels(unit, "migration")},
                "spec": pod_spec([container], 30, volumes=[tmp_volume()], restart="Never"),
            },
        },
    }
