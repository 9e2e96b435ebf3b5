#!/usr/bin/env bash
# Runs the browser tests (scripts/ui/run.mjs and its tests/) in Debian's headless Chromium
# against a fresh consultd on a free loopback port, and saves the screenshots of each
# role's screens in each language under scripts/ui/artifacts/ (kept by CI, ignored by git).
# Steps whose backend endpoint is not there yet are reported PENDING, not failed.
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
out="$root/scripts/ui/artifacts"
rm -rf "$out"
mkdir -p "$out"
BASE_URL="http://127.0.0.1:$port" OUT="$out" node run.mjs || { tail -50 "$work/consultd.log"; exit 1; }
