#!/usr/bin/env bash
# Restart a unit whose process lives but whose health check has failed for UNHEALTHY_AFTER
# seconds (systemd's Restart= only sees exits). Run by juniper-oak-health.timer every 10 s.
set -u
UNHEALTHY_AFTER="${UNHEALTHY_AFTER:-30}"
STATE="${HEALTHWATCH_STATE:-/run/juniper-oak-health}"
mkdir -p "$STATE"
now=$(date +%s)
check() {  # unit url
  local unit="$1" url="$2" mark="$STATE/$1.failing"
  systemctl is-active --quiet "$unit" || { rm -f "$mark"; return; }
  if curl -fsS -o /dev/null --max-time 3 "$url"; then
    rm -f "$mark"
    return
  fi
  [ -f "$mark" ] || echo "$now" > "$mark"
  if (( now - $(cat "$mark") >= UNHEALTHY_AFTER )); then
    echo "$unit: health check failing for $(( now - $(cat "$mark") ))s; restarting"
    rm -f "$mark"
    systemctl restart "$unit"
  fi
}
check juniper-oak-actions.service "http://127.0.0.1:5055/health"
check juniper-oak-rasa.service "http://127.0.0.1:5005/"
check juniper-oak-gateway.service "http://127.0.0.1:${GATEWAY_PORT:-8000}/livez"
