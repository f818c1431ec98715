"""Generate every per-service Kubernetes manifest from the service registry.

    python deploy/k8s/generate.py           # (re)write deploy/k8s/base/services/
    python deploy/k8s/generate.py --check   # exit 1 if the committed files differ (make k8s-validate)

A service is added to Kubernetes by adding it to the registry (hub/registry.py): this script
derives what it runs from its ServiceSpec — an API always; an outbox relay always; a consumer
with a KEDA ScaledObject when it has event handlers; a worker Deployment when it declares
background workers — and writes one file per service plus the kustomization that lists them.
`tests/unit/test_deploy_manifests.py` fails when the committed files are not what this script
produces, and feeds it a throwaway service to show a new name is picked up.

Why each object looks the way it does (the generated YAML carries no comments):

- API: gunicorn with `shared/gunicorn_conf.py`; workers, threads and timeouts come from
  GUNICORN_* variables set here per service (inside a pod `os.cpu_count()` is the node's, so
  nothing is derived from it). `terminationGracePeriodSeconds` = preStop sleep (the endpoints
  controller and kube-proxy drop the pod first) + gunicorn's graceful timeout (in-flight requests
  finish) + a margin. No `replicas`: the HPA owns the count, and a re-apply never resets it.
  /healthz is liveness (the worker answers), /readyz is readiness (its own database only: with
  the broker away the outbox keeps every write, so taking the API out of its Service would only
  turn a delay in events into failed requests). Prometheus multiprocess files live on their own
  memory emptyDir, cleaned by gunicorn's `on_starting` hook.
- Relay, consumer, worker: no HTTP port. Liveness is a heartbeat file the loop itself refreshes
  (shared/heartbeat.py) checked by an exec probe, so a loop wedged on a dead connection or stuck
  in a native call is restarted. Readiness means "can do its work": the broker for the relay and
  the consumer, the database for the worker. SIGTERM stops the loop: the consumer stops taking
  messages, finishes and acks the one in hand (unacked prefetched messages go back to the queue
  when the connection closes); the worker hands its plan back to the queue. SHUTDOWN_GRACE_S is
  how long the process waits for that, and the pod's grace period is longer.
- Migration Job: Alembic `upgrade head` once per release (not an initContainer: replicas starting
  together would race on the same DDL). Its pod template is immutable: the README's upgrade
  steps delete the finished Job first.
- Secrets: each pod gets its own service's database URL only, the broker URL when it talks to
  the broker, and JWT_SECRET (shared/config.py refuses to start any production process, even a
  migration, without a fit one); values live only in the Secret countyhub-secrets.
- Every pod: UID 10001, read-only root filesystem, all capabilities dropped, RuntimeDefault
  seccomp, no service-account token ("restricted" Pod Security Standard); `args`, not
  `command`, so the image's tini stays PID 1 and forwards SIGTERM.

Where the code lives (split by idea; this file is the command line and re-exports every name it
used to define, so `import generate` / `generate.render(...)` keep working):

- manifests_units.py: Tuning, TUNING (per-service departures), Unit, units_from_registry, unit_for
- manifests_blocks.py: SECRET, CONFIG, Obj, labels, selector, secret_env, plain_env, resources,
  CONTAINER_SECURITY, tmp_volume, exec_probe, pod_spec, spread_over, deployment
- manifests_migrate.py: migrate_job
- manifests_api.py: api (Deployment, Service, PodDisruptionBudget, HPA, ingress NetworkPolicy),
  METRICS_DIR, PRE_STOP_S
- manifests_loops.py: loop_container, relay, consumer (+ KEDA ScaledObject), worker, HEARTBEAT_FILE
- manifests_network.py: network_policy (the namespace default)
- manifests_render.py: service_objects, dump, render, write, differences, HEADER, OUT
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

# deploy/ is not a package: the manifests_* modules beside this file are imported by name, also
# when this file is loaded from its path (validate.py, tests/unit/test_deploy_manifests.py).
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from manifests_api import METRICS_DIR, PRE_STOP_S, api  # noqa: E402
from manifests_blocks import (  # noqa: E402
    CONFIG,
    CONTAINER_SECURITY,
    SECRET,
    Obj,
    deployment,
    exec_probe,
    labels,
    plain_env,
    pod_spec,
    resources,
    secret_env,
    selector,
    spread_over,
    tmp_volume,
)
from manifests_loops import HEARTBEAT_FILE, consumer, loop_container, relay, worker  # noqa: E402
from manifests_migrate import migrate_job  # noqa: E402
from manifests_network import network_policy  # noqa: E402
from manifests_render import HEADER, OUT, differences, dump, render, service_objects, write  # noqa: E402
from manifests_units import ROOT, TUNING, Tuning, Unit, unit_for, units_from_registry  # noqa: E402

__all__ = [
    "CONFIG",
    "CONTAINER_SECURITY",
    "HEADER",
    "HEARTBEAT_FILE",
    "METRICS_DIR",
    "OUT",
    "PRE_STOP_S",
    "ROOT",
    "SECRET",
    "TUNING",
    "Obj",
    "Tuning",
    "Unit",
    "api",
    "consumer",
    "deployment",
    "differences",
    "dump",
    "exec_probe",
    "labels",
    "loop_container",
    "main",
    "migrate_job",
    "network_policy",
    "plain_env",
    "pod_spec",
    "relay",
    "render",
    "resources",
    "secret_env",
    "selector",
    "service_objects",
    "spread_over",
    "tmp_volume",
    "unit_for",
    "units_from_registry",
    "worker",
    "write",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Write, or with --check compare, the generated manifests."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead")
    args = parser.parse_args(argv)
    files = render(units_from_registry())
    if args.check:
        stale = differences(files)
        if stale:
            print(
                "deploy/k8s/base/services is not what deploy/k8s/generate.py produces: "
                + ", ".join(stale)
                + "\nrun `make k8s-generate` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"deploy/k8s/base/services: {len(files)} generated files up to date")
        return 0
    write(files)
    print(f"wrote {len(files)} files to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
