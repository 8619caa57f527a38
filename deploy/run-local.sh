#!/usr/bin/env bash
# `make run`: everything on this machine, in the foreground (Ctrl-C stops it).
# - With a Docker engine and nothing configured: the whole stack through docker compose.
# - Otherwise: a local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS is set), the
#   SQLite default (unless DATABASE_URL is set), all four services in one process,
#   and a mail catcher that keeps every mail under var/mail/ (unless SMTP_HOST is set).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}${DATABASE_URL:-}${SMTP_HOST:-}" ] && docker info >/dev/null 2>&1; then
  echo "run-local: Docker engine found; starting the stack with docker compose (mail: http://localhost:8025)"
  exec docker compose up --build
fi

if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  deploy/kafka/kafka.sh start
  echo "run-local: Kafka runs on 127.0.0.1:9092 until 'make stop'"
fi

catcher=()
if [ -z "${SMTP_HOST:-}" ]; then
  mkdir -p var/mail
  catcher=(--mail-catcher var/mail)
  echo "run-local: mail goes to the local catcher on 127.0.0.1:1025; every mail is kept as a file in $(pwd)/var/mail/"
fi
echo "run-local: HTTP APIs on http://127.0.0.1:8000/<service>/docs (registration, tasks, checkins, appreciation)"
exec .venv/bin/dankjewel run all "${catcher[@]}"
