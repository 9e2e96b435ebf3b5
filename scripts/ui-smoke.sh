#!/usr/bin/env bash
# Runs the browser flow (scripts/ui/smoke.mjs) in Debian's headless Chromium against a fresh
# consultd on a free loopback port, and saves a screenshot of each role's screen under
# scripts/ui/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/consultd" ./services/consultd
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/consultd" --demo --addr "127.0.0.1:$port" --data "$work/data" >"$work/consultd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/consultd.log"; exit 1; }

cd scripts/ui
if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
mkdir -p "$root/scripts/ui/screenshots"
BASE_URL="http://127.0.0.1:$port" OUT="$root/scripts/ui/screenshots" node smoke.mjs || { cat "$work/consultd.log" | tail -50; exit 1; }
