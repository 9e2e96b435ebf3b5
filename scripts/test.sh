#!/usr/bin/env bash
# The project's test command (`make test`). It runs every suite this machine can run with real
# servers and says plainly what it had to leave to CI. With CONSULT_REQUIRE_REAL=1 (CI) a missing
# real server is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
# The toolchain go.mod names, fetched through the module proxy when the installed Go is older.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
require_real="${CONSULT_REQUIRE_REAL:-}"
missing() {
  if [ -n "$require_real" ]; then
    echo "FAIL: $1 is required here (CONSULT_REQUIRE_REAL is set)" >&2
    exit 1
  fi
  echo "NOTE: $1 is not installed: $2 (CI installs it and runs it)."
}

echo "== go vet"
go vet ./...
go vet -tags integration ./scripts/...
./scripts/lint.sh

if command -v redis-server >/dev/null; then
  echo "== Redis: a real redis-server ($(redis-server --version | cut -d' ' -f3)) for every test that depends on Redis"
  export CONSULT_REQUIRE_REAL_REDIS=1
else
  missing redis-server "tests use the in-process Redis-protocol server instead, and the multi-process suite cannot run"
fi

echo "== unit and in-process end-to-end tests (race detector on)"
go test -race -count=1 ./...

echo "== fuzz targets, briefly (make fuzz runs them longer)"
FUZZTIME="${FUZZTIME:-3s}" ./scripts/fuzz.sh

if command -v redis-server >/dev/null && command -v openssl >/dev/null; then
  echo "== acceptance suite and permissions against intake, routing and notify as separate processes, real nats-server and redis-server with the shipped users and TLS"
  go test -tags integration -count=1 ./scripts/integration/
elif command -v redis-server >/dev/null; then
  missing openssl "the multi-process suite, which makes the deployment's certificates with it, cannot run"
fi

if command -v docker-compose >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
  echo "== deployment files"
  go build -o bin/nats-server github.com/nats-io/nats-server/v2
  NATS_SERVER="$PWD/bin/nats-server" ./scripts/validate-deploy.sh
else
  missing "docker-compose or python3-yaml" "deployment files are not validated"
fi

if [ -x /usr/bin/chromium ] && command -v npm >/dev/null; then
  echo "== browser flow in headless Chromium"
  ./scripts/ui-smoke.sh
else
  missing "chromium or npm" "the browser flow is not exercised"
fi
echo "== all suites passed"
