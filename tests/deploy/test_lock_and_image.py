"""The lock files agree with pyproject.toml, carry hashes, and are what the image and `make test` install."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def lock_module() -> ModuleType:
    """.ci/lock.py as a module."""
    spec = importlib.util.spec_from_file_location("ci_lock", ROOT / ".ci" / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lock = lock_module()


def test_the_committed_locks_match_pyproject() -> None:
    assert lock.check(ROOT) == []


def test_a_dependency_added_without_make_lock_is_caught(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert lock.check(tmp_path) == []
    text = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(text.replace('dependencies = [\n', 'dependencies = [\n  "attrs>=23",\n', 1),
                                             encoding="utf-8")
    problems = lock.check(tmp_path)
    assert len(problems) == 2 and all("another pyproject.toml" in p for p in problems)


def test_a_requirement_without_hash_is_caught(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    dev = tmp_path / "requirements-dev.lock"
    dev.write_text(dev.read_text(encoding="utf-8") + "extra-unhashed==1.0\n", encoding="utf-8")
    assert any("extra-unhashed==1.0 has no hash" in p for p in lock.check(tmp_path))


def test_every_pinned_distribution_has_a_hash_and_pyproject_deps_are_locked() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for name, deps in (("requirements.lock", project["dependencies"]),
                       ("requirements-dev.lock", project["dependencies"] + project["optional-dependencies"]["dev"])):
        text = (ROOT / name).read_text(encoding="utf-8").lower()
        pinned = {re.sub(r"[-_.]+", "-", m) for m in re.findall(r"^([a-z0-9][\w.-]*)==", text, re.M)}
        for dep in deps:
            dist = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][\w.-]*", dep).group(0).lower())  # type: ignore[union-attr]
            assert dist in pinned, f"{dep} is not in {name}"


def test_image_make_and_ci_install_from_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY requirements.lock" in dockerfile
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps --no-build-isolation ." in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "requirements.lock" not in ignored and "*.lock" not in ignored
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert re.search(r"^test: lock-check ", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
