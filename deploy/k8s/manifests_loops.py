"""The background loops of a service: outbox relay, event consumer (with its KEDA ScaledObject), workers.

Split out of deploy/k8s/generate.py (whose docstring explains every generated choice, "Relay,
consumer, worker"): no HTTP port. Liveness is a heartbeat file (HEARTBEAT_FILE) the loop itself
refreshes (shared/heartbeat.py), checked by an exec probe, so a loop wedged on a dead connection
or stuck in a native call is restarted. Readiness means "can do its work": the broker for the
relay and the consumer, the database for the worker (and the broker too when
Tuning.worker_needs_broker). SIGTERM stops the loop; SHUTDOWN_GRACE_S is how long the process
waits to finish the message or plan in hand, and the pod's grace period is longer (+10 s for
relay and consumer, +15 s for the worker). One relay per service (SKIP LOCKED makes the rollout
overlap safe; one keeps order). The consumer is sized by KEDA on its queue <service>.events
(50 messages per replica, 1 to 4 replicas). Units: seconds; CPU and memory as Kubernetes strings.
"""

from __future__ import annotations

from collections.abc import Iterable

from manifests_blocks import (
    CONFIG,
    CONTAINER_SECURITY,
    Obj,
    deployment,
    exec_probe,
    labels,
    plain_env,
    pod_spec,
    resources,
    secret_env,
    spread_over,
    tmp_volume,
)
from manifests_units import Unit

HEARTBEAT_FILE = "/tmp/countyhub-heartbeat"


def loop_container(
    unit: Unit,
    role: str,
    command: str,
    ready: list[str],
    max_age: int,
    grace: int,
    secrets: Iterable[str],
    res: tuple[tuple[str, str], tuple[str, str]],
) -> Obj:
    """A background loop's container: heartbeat liveness, readiness on what it needs."""
    live = ["python", "-m", "shared.heartbeat", "check", "--max-age", str(max_age)]
    return {
        "name": role,
        "image": "countyhub",
        "imagePullPolicy": "IfNotPresent",
        "args": ["countyhub", command, "--service", unit.name],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": plain_env({"HEARTBEAT_FILE": HEARTBEAT_FILE, "SHUTDOWN_GRACE_S": grace})
        + secret_env(*secrets),
        "resources": resources(*res),
        "startupProbe": exec_probe(live, 10, 10, 12),
        "livenessProbe": exec_probe(live, 20, 10, 3),
        "readinessProbe": exec_probe(
            ["python", "-m", "shared.heartbeat", "ready", *ready, "--service", unit.name], 20, 10, 3
        ),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def relay(unit: Unit) -> Obj:
    """One outbox relay per service (SKIP LOCKED makes the rollout overlap safe; one keeps order)."""
    t = unit.tuning
    c = loop_container(
        unit,
        "relay",
        "relay",
        ["--broker"],
        t.loop_heartbeat_max_age_s,
        t.shutdown_grace_s,
        (f"{unit.env_prefix}_DATABASE_URL", "BROKER_URL", "JWT_SECRET"),
        (t.relay_requests, t.relay_limits),
    )
    return deployment(
        unit, "relay", pod_spec([c], t.shutdown_grace_s + 10, volumes=[tmp_volume()]), replicas=1
    )


def consumer(unit: Unit) -> list[Obj]:
    """The event consumer and the KEDA ScaledObject that sizes it on its queue's length."""
    t = unit.tuning
    c = loop_container(
        unit,
        "consumer",
        "consume",
        ["--broker"],
        t.loop_heartbeat_max_age_s,
        t.shutdown_grace_s,
        (f"{unit.env_prefix}_DATABASE_URL", "BROKER_URL", "JWT_SECRET"),
        (t.consumer_requests, t.consumer_limits),
    )
    dep = deployment(unit, "consumer", pod_spec([c], t.shutdown_grace_s + 10, volumes=[tmp_volume()]))
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"{unit.k8s}-consumer", "labels": labels(unit, "consumer")},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{unit.k8s}-consumer"},
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 300,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        }
                    }
                }
            },
            "triggers": [
                {
                    "type": "rabbitmq",
                    "metadata": {
                        "protocol": "amqp",
                        "queueName": f"{unit.name}.events",
                        "mode": "QueueLength",
                        "value": "50",
                    },
                    "authenticationRef": {"name": "countyhub-rabbitmq"},
                }
            ],
        },
    }
    return [dep, scaled]


def worker(unit: Unit) -> Obj:
    """The service's background workers (dispatch: the OR-Tools solver), fixed count per overlay."""
    t = unit.tuning
    ready = ["--database", "--broker"] if t.worker_needs_broker else ["--database"]
    c = loop_container(
        unit,
        "worker",
        "worker",
        ready,
        t.worker_heartbeat_max_age_s,
        t.worker_shutdown_grace_s,
        (f"{unit.env_prefix}_DATABASE_URL", "BROKER_URL", "JWT_SECRET"),
        (t.worker_requests, t.worker_limits),
    )
    pod = pod_spec(
        [c],
        t.worker_shutdown_grace_s + 15,
        volumes=[tmp_volume()],
        spread=spread_over(unit, "worker", ("kubernetes.io/hostname",)),
    )
    return deployment(unit, "worker", pod, replicas=1)
