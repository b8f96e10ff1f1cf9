#!/usr/bin/env bash
# Conversation tests in Rasa's own format against the real action server and a
# freshly seeded test CRM. Usage: scripts/test-stories.sh [stories file or dir]
set -euo pipefail
cd "$(dirname "$0")/.."
stories="${1:-tests/test_stories.yml}"
port="${ACTION_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
work="$(mktemp -d /tmp/juniper-stories.XXXXXX)"
export DATABASE_URL="sqlite:///$work/crm.db"
export TRACKER_STORE_URL="sqlite:///$work/rasa.db"
export ACTION_ENDPOINT_URL="http://127.0.0.1:$port/webhook"
export RASA_TOKEN="${RASA_TOKEN:-story-tests-token-0123456789}"
export ACTION_SERVER_TOKEN="${ACTION_SERVER_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}"
export ACTION_PORT="$port"
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
.venv/bin/python -m crm migrate >/dev/null
.venv/bin/python -m crm seed-demo >/dev/null
.venv/bin/python -m actions.server >"$work/actions.log" 2>&1 &
actions_pid=$!
trap 'kill $actions_pid 2>/dev/null || true; wait $actions_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 $actions_pid 2>/dev/null || { cat "$work/actions.log"; exit 1; }
  sleep 0.5
done
model="$(ls -t models/*.tar.gz | head -1)"
.venv-rasa/bin/rasa test core --model "$model" --stories "$stories" --endpoints endpoints.yml \
  --out "$work/results" --fail-on-prediction-errors
status=$?
echo "results and action server log: $work"
exit $status
