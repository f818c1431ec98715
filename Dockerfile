# County Pharmacy & Logistics Hub — one image for every service and every role
# (API under gunicorn, outbox relay, event consumer, routing worker, migrations, topology).
# The Kubernetes manifests under deploy/k8s/ pick the role with the container's command.
#
#   docker build -t countyhub:0.1.0 .
#   docker run --rm countyhub:0.1.0                       # prints `countyhub --help`
#   docker run --rm -p 8001:8001 -e DATABASE_URL=... -e BROKER_URL=... -e JWT_SECRET=... \
#       -e GUNICORN_BIND=0.0.0.0:8001 -e GUNICORN_WORKERS=2 -e GUNICORN_THREADS=4 \
#       countyhub:0.1.0 gunicorn --config python:shared.gunicorn_conf services.formulary.wsgi:app

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# build: a virtualenv holding the project and its runtime dependencies (no dev/bench extras)
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The build tools pinned too (the project's own wheel is built with them, without isolation).
RUN pip install pip==26.3 setuptools==84.2.1 wheel==0.48.0

WORKDIR /src

# Dependencies first, exactly as locked (requirements.lock: every version pinned, every file's
# sha256 checked; `make lock` regenerates it from pyproject.toml), so the image runs what the
# tests ran. This layer is rebuilt only when the lock changes, not on every source edit. Every
# dependency ships manylinux wheels (OR-Tools, psycopg[binary], ...), so no compiler is needed.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then the project itself, non-editable, without touching the dependencies installed above
# (pip byte-compiles it here, so the read-only runtime never needs to write .pyc files).
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY hub ./hub
RUN pip install --no-deps --no-build-isolation . \
 && countyhub --help > /dev/null

# ---------------------------------------------------------------------------------------------
# runtime: the virtualenv on a clean slim image, run as an unprivileged numeric user
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# tini as PID 1 forwards SIGTERM to the Python process and reaps zombies, so `kubectl delete`
# and rolling updates stop the relay/consumer/worker loops promptly instead of after the
# termination grace period.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# A numeric UID/GID so Kubernetes can verify runAsNonRoot without a runAsUser override.
RUN groupadd --system --gid 10001 countyhub \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/countyhub --create-home \
      --shell /usr/sbin/nologin countyhub

COPY --from=build /opt/venv /opt/venv

# HUB_DATA_DIR only matters if a process falls back to the embedded defaults; in Kubernetes
# /tmp is an emptyDir, the rest of the filesystem is read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HUB_DATA_DIR=/tmp/countyhub

WORKDIR /home/countyhub
USER 10001:10001

# formulary 8001, procurement 8002, prescription_review 8003, dispatch 8004
EXPOSE 8001-8004

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["countyhub", "--help"]
