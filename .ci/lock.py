"""The lock files: hash-pinned dependencies resolved from pyproject.toml (standard library only).

    python .ci/lock.py write   # `make lock`: re-resolve both files with uv (PyPI), with hashes
    python .ci/lock.py check   # `make lock-check`: exit 1 if pyproject.toml changed since

requirements.lock      the runtime dependencies (the Docker image installs exactly these)
requirements-dev.lock  runtime + the `dev` extra (`make test` and CI install exactly these)

Both are resolved once for every platform (`uv pip compile --universal`) for Python 3.11 and
carry the sha256 of every distribution, so `pip install --require-hashes` refuses anything else.
Each file's first line records a fingerprint of what it was resolved from (requires-python,
`dependencies` and the `dev` extra of pyproject.toml); `check` recomputes it, so a dependency
added to pyproject.toml without `make lock` fails `make test` with a message saying so.
The `bench` extra (peers for bench/vrp.py) is not locked: it is never part of a test or an image.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCKS = {"requirements.lock": [], "requirements-dev.lock": ["--extra", "dev"]}
PREFIX = "# pyproject-fingerprint: "


def fingerprint(pyproject: Path = PYPROJECT) -> str:
    """sha256 of the parts of pyproject.toml the locks are resolved from."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    basis = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "dev": sorted(project.get("optional-dependencies", {}).get("dev", [])),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def recorded(lock: Path) -> str | None:
    """The fingerprint a lock file was made from, None if it has none."""
    if not lock.exists():
        return None
    first = lock.read_text(encoding="utf-8").splitlines()[:1]
    return first[0][len(PREFIX):].strip() if first and first[0].startswith(PREFIX) else None


def uv() -> list[str]:
    """The uv command (beside this Python, or on PATH)."""
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("uv is not installed: `make lock` installs it (pip install uv)")
    return [found]


def write(root: Path = ROOT) -> None:
    """Resolve both lock files from pyproject.toml and stamp them with its fingerprint."""
    stamp = fingerprint(root / "pyproject.toml")
    for name, extra in LOCKS.items():
        out = root / name
        subprocess.run(
            [*uv(), "pip", "compile", "pyproject.toml", *extra, "--generate-hashes", "--universal",
             "--python-version", "3.11", "--custom-compile-command", "make lock", "--quiet", "-o", name],
            cwd=root, check=True,
        )
        body = out.read_text(encoding="utf-8")
        out.write_text(f"{PREFIX}{stamp}\n{body}", encoding="utf-8")
        print(f"{name}: {sum(1 for line in body.splitlines() if '==' in line)} pinned distributions")


def check(root: Path = ROOT) -> list[str]:
    """Problems: lock files missing, or made from another pyproject.toml."""
    expected = fingerprint(root / "pyproject.toml")
    problems = []
    for name in LOCKS:
        got = recorded(root / name)
        if got is None:
            problems.append(f"{name} is missing or has no fingerprint line")
        elif got != expected:
            problems.append(f"{name} was resolved from another pyproject.toml (dependencies changed since)")
        else:
            problems += [f"{name}: {req} has no hash" for req in unhashed(root / name)]
    return problems


def unhashed(lock: Path) -> list[str]:
    """Pinned requirements of a lock file that carry no --hash (pip would refuse the file)."""
    out, current, hashed = [], None, False
    for line in [*lock.read_text(encoding="utf-8").splitlines(), ""]:
        stripped = line.strip()
        if not line.startswith((" ", "#")) and stripped:
            if current and not hashed:
                out.append(current)
            current, hashed = stripped.split(" ")[0], "--hash=" in stripped
        elif "--hash=" in stripped:
            hashed = True
    if current and not hashed:
        out.append(current)
    return out


def main(argv: list[str]) -> int:
    """`write` or `check`."""
    if argv[1:] == ["write"]:
        write()
        return 0
    if argv[1:] == ["check"]:
        problems = check()
        for problem in problems:
            print(f"lock-check: {problem}", file=sys.stderr)
        if problems:
            print("lock-check: pyproject.toml and the lock files disagree: run `make lock` and commit "
                  "requirements.lock and requirements-dev.lock", file=sys.stderr)
            return 1
        print("lock-check: requirements.lock and requirements-dev.lock match pyproject.toml")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
