# County Pharmacy & Logistics Hub — every set-up step lives here, so a fresh machine needs only `make`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo lint typecheck unit integration e2e browser services chromium bench-formulary bench-vrp bench-county bench-procurement soak clean \
	lock lock-check k8s-generate k8s-validate audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# What was tested is what runs: the dependencies come from the hash-locked requirements-dev.lock
# (the image installs requirements.lock, its runtime subset). `make lock` regenerates both from
# pyproject.toml; `make lock-check` (part of `make test`) fails when pyproject.toml changed since.
$(STAMP): pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python .ci/lock.py check
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## run: the whole hub on the embedded default (SQLite + in-process bus), seeded with a sample county
run: $(STAMP)
	$(BIN)/countyhub run

## demo: a scripted working day against the embedded hub, through real HTTP and real events
demo: $(STAMP)
	$(BIN)/countyhub demo

## chromium: Debian's browser for the page tests (Playwright drives it; no browser download)
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

## services: make sure PostgreSQL and RabbitMQ are up for the integration tests
services:
	bash .ci/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy shared services hub bench

## test: lock in step, lint, types, manifests, every test (unit, integration on real PostgreSQL/RabbitMQ, e2e, browser), then the dependency audit
# In `make test` a known vulnerability fails the run; an audit that could not be made (pypi.org's
# per-release API unreachable, as behind a registry mirror) is printed as NOT AUDITED and does not.
test: lock-check $(STAMP) chromium services lint typecheck k8s-validate
	$(BIN)/pytest -q
	$(BIN)/python .ci/audit.py --not-audited-is-a-warning requirements-dev.lock

## audit: the locked dependencies (requirements-dev.lock, a superset of the image's requirements.lock) against
## PyPI's vulnerability data, installing nothing; needs pypi.org, says so plainly when it cannot reach it (.ci/audit.py)
audit: $(STAMP)
	$(BIN)/python .ci/audit.py requirements-dev.lock

## lock: re-resolve requirements.lock and requirements-dev.lock (with hashes) from pyproject.toml
lock: | $(BIN)/python
	$(BIN)/pip install -q "uv>=0.5"
	$(BIN)/python .ci/lock.py write

## lock-check: fail when pyproject.toml's dependencies changed since the lock files were made
lock-check: | $(BIN)/python
	$(BIN)/python .ci/lock.py check

## k8s-generate: rewrite deploy/k8s/base/services from the service registry
k8s-generate: $(STAMP)
	$(BIN)/python deploy/k8s/generate.py

## k8s-validate: render every overlay, validate offline against Kubernetes and CRD schemas, lint, policy
k8s-validate: $(STAMP)
	$(BIN)/python deploy/k8s/validate.py

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP) services
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

browser: $(STAMP) chromium
	$(BIN)/pytest -q tests/browser

bench-formulary: $(STAMP) services
	$(BIN)/python -m bench.formulary

bench-vrp: $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m bench.vrp --instances ../shared/data/vrp/solomon --bks ../shared/data/vrp/solomon/bks_distance_only.csv --time-limit 10 --peers

bench-county: $(STAMP)
	$(BIN)/python -m bench.county_scale

bench-procurement: $(STAMP) services
	$(BIN)/python -m bench.procurement

## soak: the four services under gunicorn, a mixed load, faults in turn on private PostgreSQL/RabbitMQ (bench/soak.py; not in `make test`)
soak: $(STAMP) services
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
