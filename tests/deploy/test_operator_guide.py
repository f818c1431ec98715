"""Every name the operator's guide (deploy/k8s/README.md) uses exists in what the manifests render.

Object names, label selectors, environment variables, alerts, metrics, files, `countyhub`
commands and `make` targets: a guide that names something the manifests do not have sends an
operator looking for it at 3 a.m. Names of things the operator creates by hand or an operator
(CNPG, RabbitMQ) creates are listed below with the reason.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from hub.cli import build_parser
from hub.registry import specs

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
GUIDE = K8S / "README.md"

# Created outside the manifests, on purpose.
EXTERNAL_NAMES = {
    "countyhub-secrets": "the application Secret, created by hand or a secret manager (never in the repo)",
    "countyhub-pg-rw": "the read-write Service CloudNativePG creates for Cluster countyhub-pg",
    "countyhub-rabbitmq-default-user": "the Secret the RabbitMQ operator generates",
    "countyhub-pg-restore": "the guide's example name of a restored cluster",
    "countyhub-pg-restore-rw": "its read-write Service",
    "countyhub-pg-daily": "the guide's example ScheduledBackup, added in the overlay",
    "countyhub-backup-s3": "the guide's example object-store credentials Secret",
    "kubernetes-validate": "a Python package (the Kubernetes schemas), not an object",
}


@cache
def rendered() -> list[dict[str, Any]]:
    """Both overlays' objects."""
    objs: list[dict[str, Any]] = []
    for overlay in ("staging", "production"):
        out = subprocess.run(["kubectl", "kustomize", str(K8S / "overlays" / overlay)], capture_output=True,
                             text=True, check=True, timeout=120).stdout
        objs += [o for o in yaml.safe_load_all(out) if o]
    return objs


def guide() -> str:
    """The guide's text."""
    return GUIDE.read_text(encoding="utf-8")


def backticked() -> set[str]:
    """Every `...` span of the guide (outside and inside code blocks' inline quotes)."""
    return set(re.findall(r"`([^`\n]+)`", guide()))


def expand(token: str) -> list[str]:
    """`<service>-relay` -> one name per registered service."""
    if "<service>" not in token:
        return [token]
    return [token.replace("<service>", s.name.replace("_", "-")) for s in specs()]


def object_names() -> set[str]:
    """Every rendered object's name (ConfigMap names without their hash suffix too)."""
    names = {o["metadata"]["name"] for o in rendered()}
    return names | {re.sub(r"-[a-z0-9]{10}$", "", n) for n in names}


def test_every_object_name_in_the_guide_exists() -> None:
    names = object_names()
    pattern = re.compile(r"^[a-z0-9]+(?:-(?:[a-z0-9]+|<service>))+$")
    used = [t for t in backticked() if pattern.match(t)]
    assert len(used) >= 15, used
    missing = []
    for token in used:
        candidates = expand(token)
        if token.startswith("countyhub-pg-<service>"):
            continue  # the role Secrets, created by hand (first install, step 1)
        if not any(c in names or c in EXTERNAL_NAMES for c in candidates):
            missing.append(token)
    assert not missing, f"the guide names objects the manifests do not have: {missing}"


def test_every_label_selector_in_the_guide_matches_objects() -> None:
    selectors = re.findall(r"-l ([\w./-]+)=([\w./-]+)", guide())
    assert selectors
    for key, value in selectors:
        assert any((o["metadata"].get("labels") or {}).get(key) == value for o in rendered()), f"-l {key}={value}"


def test_every_environment_variable_in_the_guide_is_set_somewhere() -> None:
    env: set[str] = set()
    for o in rendered():
        if o["kind"] == "ConfigMap":
            env |= set(o.get("data", {}))
        spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in spec.get("containers", []):
            env |= {e["name"] for e in c.get("env", [])}
    used = {t for t in backticked() if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", t)}
    assert used
    assert not used - env, f"not set in any rendered container or ConfigMap: {sorted(used - env)}"


def test_every_alert_exists_and_every_alert_is_explained() -> None:
    rules = [r for o in rendered() if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules if "alert" in r}
    mentioned = set(re.findall(r"\bCountyhub[A-Z]\w+", guide()))
    assert mentioned <= alerts, f"the guide names alerts that do not exist: {mentioned - alerts}"
    assert alerts <= mentioned, f"alerts the guide does not explain: {alerts - mentioned}"


def test_every_metric_in_the_guide_is_served_or_scraped() -> None:
    from shared.migrate import upgrade
    from shared.runtime import build_context
    from tests.support.web import make_settings

    served: set[str] = set()

    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs():
            ctx = build_context(spec, make_settings(spec.name, f"sqlite:///{tmp}/{spec.name}.sqlite3"))
            upgrade(spec.migrations, ctx.engine)
            text = spec.create_app(ctx).test_client().get("/metrics").get_data(as_text=True)
            for metric, kind in re.findall(r"^# TYPE (\w+) (\w+)", text, re.M):
                served.add(metric)
                if kind == "histogram":
                    served.add(metric + "_bucket")
            ctx.engine.dispose()
    rule_text = (K8S / "base" / "prometheusrule.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\b((?:countyhub|http|rabbitmq)_[a-z_]+)", guide()))
    assert used
    for metric in used:
        if metric.startswith("rabbitmq_"):
            assert metric in rule_text, f"{metric}: not used by any alert (RabbitMQ's plugin series)"
        else:
            assert metric in served, f"{metric}: no service's /metrics serves it"


def test_every_file_command_and_target_in_the_guide_exists() -> None:
    for token in backticked():
        for prefix in ("deploy/k8s/", "base/", "components/", "overlays/", "schemas/", "shared/", "hub/"):
            if token.startswith(prefix) and re.fullmatch(r"[\w./-]+", token):
                path = (ROOT / token) if token.startswith(("deploy/", "shared/", "hub/")) else (K8S / token)
                assert path.exists(), token
    commands = set(re.findall(r"(?:`|-- )countyhub (\w+)", guide()))
    assert {"relay", "consume", "worker", "migrate", "dlq", "topology"} <= commands
    parser_commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert commands <= parser_commands, commands - parser_commands
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"`make ([a-z][\w-]+)`", guide()):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"make {target}"
