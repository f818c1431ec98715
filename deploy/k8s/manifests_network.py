"""The namespace's default NetworkPolicy for every countyhub pod, derived from all services' ports.

Split out of deploy/k8s/generate.py (whose docstring explains every generated choice): no
ingress (each API opens its own port in its `<service>-api-ingress` policy, manifests_api.py);
egress only to PostgreSQL (the CloudNativePG cluster countyhub-pg, TCP 5432), RabbitMQ
(countyhub-rabbitmq, TCP 5672), cluster DNS (kube-dns in kube-system, UDP and TCP 53) and the
APIs (one TCP port range from the lowest to the highest registered service port).
"""

from __future__ import annotations

from collections.abc import Sequence

from manifests_blocks import Obj
from manifests_units import Unit


def network_policy(units: Sequence[Unit]) -> Obj:
    """Default policy of every countyhub pod: no ingress; egress to PostgreSQL, RabbitMQ, DNS, the APIs."""
    ports = sorted(u.port for u in units)
    api_port: Obj = {"protocol": "TCP", "port": ports[0]}
    if ports[-1] != ports[0]:
        api_port["endPort"] = ports[-1]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "countyhub-default", "labels": {"app.kubernetes.io/part-of": "countyhub"}},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "countyhub"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "countyhub-pg"}}}],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                },
                {
                    "to": [
                        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "countyhub-rabbitmq"}}}
                    ],
                    "ports": [{"protocol": "TCP", "port": 5672}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {
                    "to": [
                        {
                            "podSelector": {
                                "matchLabels": {
                                    "app.kubernetes.io/part-of": "countyhub",
                                    "app.kubernetes.io/component": "api",
                                }
                            }
                        }
                    ],
                    "ports": [api_port],
                },
            ],
        },
    }
