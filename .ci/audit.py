"""`make audit` (run by `make test`): the locked dependencies checked against known vulnerabilities.

    python .ci/audit.py [--not-audited-is-a-warning] [LOCK ...]   # default: requirements-dev.lock

`make test` passes --not-audited-is-a-warning: a known vulnerability still fails it (exit 1), but
an audit that could not be made (exit 2 below) is printed as NOT AUDITED and exits 0, because the
CI machines reach the package registry only through a mirror without PyPI's per-release JSON API.
`make audit` alone stays strict.

pip-audit reads the hash-locked requirements (requirements-dev.lock holds every runtime
dependency of requirements.lock, which the image installs, plus the dev tools) without installing
anything (`--disable-pip --require-hashes`) and asks PyPI's JSON API for each pinned release's
advisories (`-s pypi`: pypi.org is the only host needed; PyPI serves the OSV/PYSEC advisories
there).

Exit status, each with one plain message:
  0  every locked release was audited and none has a known vulnerability;
  1  known vulnerabilities: each with its advisory and the versions that fix it (raise the bound
     in pyproject.toml, then `make lock`);
  2  the audit could not be made: pypi.org unreachable (DNS, proxy, timeout, TLS), or releases
     PyPI could not be asked about. Never reported as a pass: nothing audited is not "no
     vulnerabilities".
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORK = re.compile(
    r"ConnectionError|ProxyError|ConnectTimeout|ReadTimeout|Timeout|NameResolutionError|Name or service not known|"
    r"Temporary failure in name resolution|Max retries exceeded|SSLError|CERTIFICATE_VERIFY_FAILED|Connection refused",
)


def pip_audit(lock: Path) -> tuple[int, dict | None, str]:
    """Run pip-audit on one lock file: (exit code, its JSON report or None, stderr)."""
    exe = Path(sys.executable).parent / "pip-audit"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        done = subprocess.run(
            [str(exe), "-r", str(lock), "--require-hashes", "--disable-pip", "-s", "pypi", "-f", "json",
             "-o", str(report), "--progress-spinner", "off", "--timeout", "30"],
            capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() and report.stat().st_size else None
    return done.returncode, data, done.stderr


def judge(lock: str, code: int, data: dict | None, stderr: str) -> tuple[int, list[str]]:
    """The exit status and the lines to print for one lock file's audit."""
    if data is None:
        cause = NETWORK.search(stderr)
        if cause:
            return 2, [f"{lock}: NOT AUDITED - pypi.org could not be reached ({cause.group(0)}). "
                       "The vulnerability data comes from https://pypi.org/pypi/<name>/<version>/json: "
                       "check the network, DNS or HTTPS proxy, and run `make audit` again."]  # fmt: skip
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        return 2, [f"{lock}: NOT AUDITED - pip-audit stopped (exit {code}) without a report:\n{tail}"]
    deps = data.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    lines: list[str] = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            lines.append(f"{lock}: VULNERABLE {dep['name']} {dep.get('version')}: {vuln['id']}"
                         f"{f' ({aliases})' if aliases else ''}; fixed in {fixes}")  # fmt: skip
    if vulnerable:
        return 1, lines
    if skipped:
        if len(skipped) == len(deps):
            return 2, [f"{lock}: NOT AUDITED - pypi.org answered, but its per-release JSON API "
                       f"(/pypi/<name>/<version>/json) knew none of the {len(deps)} locked releases "
                       "(a mirror or proxy that serves only /simple and /pypi/<name>/json does this). "
                       "Nothing was audited; run `make audit` where pypi.org itself is reachable."]  # fmt: skip
        names = ", ".join(f"{d['name']} ({d['skip_reason']})" for d in skipped[:10])
        return 2, [f"{lock}: NOT FULLY AUDITED - {len(skipped)} of {len(deps)} releases could not be asked about: {names}"]
    return 0, [f"{lock}: {len(deps)} locked releases audited, no known vulnerabilities"]


def main(argv: list[str]) -> int:
    """Audit each lock file named (default requirements-dev.lock); the worst exit status (2 becomes 0
    with --not-audited-is-a-warning, after the NOT AUDITED message)."""
    lenient = "--not-audited-is-a-warning" in argv
    argv = [a for a in argv if a != "--not-audited-is-a-warning"]
    worst = 0
    for name in argv or ["requirements-dev.lock"]:
        code, data, stderr = pip_audit(ROOT / name)
        status, lines = judge(name, code, data, stderr)
        print("\n".join(lines), file=sys.stderr if status else sys.stdout)
        worst = max(worst, status)
    if worst == 2 and lenient:
        print("dependency audit: NOT AUDITED (see above) - not failing `make test` for it; run `make audit` "
              "where pypi.org is reachable", file=sys.stderr)
        return 0
    return worst


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
