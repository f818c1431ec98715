#!/usr/bin/env bash
# Make sure the real PostgreSQL and RabbitMQ the integration tests use are up; start them if not.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 60); do pg_up && break; sleep 1; done
fi
pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

rabbit_up() { timeout 20 rabbitmqctl -q status >/dev/null 2>&1 && timeout 20 rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; }
if ! rabbit_up; then
  echo "starting RabbitMQ"
  # A node left stopped by `stop_app` only needs its app started again.
  timeout 60 rabbitmqctl start_app >/dev/null 2>&1 || rabbitmq-server -detached || true
  timeout 120 rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
rabbit_up || { echo "RabbitMQ is not reachable on 127.0.0.1:5672" >&2; exit 1; }
echo "PostgreSQL and RabbitMQ are up"
