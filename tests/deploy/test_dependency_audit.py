"""`make audit` (.ci/audit.py, run by `make test`): what it says when the locked dependencies have a
known vulnerability, when pypi.org cannot be reached, and when PyPI knows none of the releases.

The audit itself needs pypi.org and runs as `make audit`, not here; these tests run pip-audit for
real where they can (an unreachable proxy is a real network failure) and feed `judge` the report
shape pip-audit writes (`-f json`) for the verdicts that need PyPI's data.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def audit_module() -> ModuleType:
    """.ci/audit.py as a module."""
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


audit = audit_module()


def test_pip_audit_is_locked_for_the_audit() -> None:
    assert "pip-audit==" in (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    assert (Path(sys.executable).parent / "pip-audit").exists()


def test_an_unreachable_pypi_is_a_failure_that_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: the proxy refuses every connection
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HTTPS_PROXY": f"http://127.0.0.1:{port}", "https_proxy": f"http://127.0.0.1:{port}",
           "XDG_CACHE_HOME": str(tmp_path)}  # no cached answers from an earlier audit  # fmt: skip
    done = subprocess.run([sys.executable, str(ROOT / ".ci" / "audit.py"), "requirements.lock"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=280)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "requirements.lock: NOT AUDITED - pypi.org could not be reached" in done.stderr
    assert "no known vulnerabilities" not in (done.stdout + done.stderr).lower()
    # `make test`'s form: the same message, and a warning rather than a failure.
    lenient = subprocess.run([sys.executable, str(ROOT / ".ci" / "audit.py"), "--not-audited-is-a-warning",
                              "requirements.lock"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=280)  # fmt: skip
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "NOT AUDITED - pypi.org could not be reached" in lenient.stderr
    assert "not failing `make test`" in lenient.stderr


def test_a_vulnerable_locked_release_fails_naming_the_advisory_and_the_fix() -> None:
    report = {"dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "jinja2", "version": "3.1.2", "vulns": [
            {"id": "PYSEC-2024-1", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"], "description": "xss"}]},
    ], "fixes": []}  # fmt: skip
    status, lines = audit.judge("requirements.lock", 1, report, "")
    assert status == 1
    assert lines == ["requirements.lock: VULNERABLE jinja2 3.1.2: PYSEC-2024-1 (CVE-2024-22195); fixed in 3.1.3"]


def test_nothing_audited_is_never_a_pass() -> None:
    every = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited"}]}
    status, lines = audit.judge("requirements-dev.lock", 0, every, "")
    assert status == 2 and "NOT AUDITED" in lines[0] and "knew none of the 1 locked releases" in lines[0]
    some = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []},
                             {"name": "odd", "skip_reason": "Dependency not found on PyPI"}]}  # fmt: skip
    status, lines = audit.judge("requirements-dev.lock", 0, some, "")
    assert status == 2 and "NOT FULLY AUDITED - 1 of 2" in lines[0]
    clean = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}
    assert audit.judge("requirements-dev.lock", 0, clean, "") == (
        0, ["requirements-dev.lock: 1 locked releases audited, no known vulnerabilities"])


def test_make_tests_lenient_form_still_fails_on_a_known_vulnerability(monkeypatch: pytest.MonkeyPatch) -> None:
    vulnerable = {"dependencies": [{"name": "jinja2", "version": "3.1.2", "vulns": [
        {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"]}]}]}
    monkeypatch.setattr(audit, "pip_audit", lambda lock: (1, vulnerable, ""))
    assert audit.main(["--not-audited-is-a-warning", "requirements.lock"]) == 1
    monkeypatch.setattr(audit, "pip_audit", lambda lock: (1, None, "ConnectionError: refused"))
    assert audit.main(["--not-audited-is-a-warning", "requirements.lock"]) == 0
    assert audit.main(["requirements.lock"]) == 2
