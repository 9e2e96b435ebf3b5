#!/usr/bin/env bash
# Static checks (`make lint`; scripts/test.sh runs it after go vet): gofmt, staticcheck and
# govulncheck. The tools are pinned by the `tool` lines of go.mod and run with `go tool`, so a
# fresh clone needs nothing but Go and the module proxy. govulncheck cannot reach its online
# database from CI, so it reads one built offline by scripts/vulndb from the OSV files of the
# golang.org/x/vulndb version pinned in go.mod. Every check runs; the script exits non-zero if
# any of them found something.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

failed=()
started=$SECONDS
took() { echo "   ($(( SECONDS - started ))s)"; started=$SECONDS; }

echo "== gofmt -l"
dirs=()
for d in services pkg scripts internal; do
  if [ -d "$d" ]; then dirs+=("$d"); fi
done
gofmt_status=0
unformatted="$(gofmt -l "${dirs[@]}" 2>&1)" || gofmt_status=$?
if [ -n "$unformatted" ] || [ "$gofmt_status" -ne 0 ]; then
  echo "these files are not gofmt-formatted (run: gofmt -w FILE):"
  printf '%s\n' "$unformatted" | sed 's/^/  /'
  failed+=("gofmt")
fi
took

echo "== staticcheck"
if ! go tool staticcheck ./...; then failed+=("staticcheck"); fi
if ! go tool staticcheck -tags integration ./scripts/...; then failed+=("staticcheck -tags integration"); fi
took

vulndb_version="$(go list -m -f '{{.Version}}' golang.org/x/vulndb)"
echo "== govulncheck (offline database from golang.org/x/vulndb $vulndb_version)"
# Rebuilt only when the pinned version or the builder changes.
stamp="$vulndb_version $(sha256sum < scripts/vulndb/main.go | cut -d' ' -f1)"
if [ -f bin/vulndb/index/modules.json ] && [ "$(cat bin/vulndb.stamp 2>/dev/null)" = "$stamp" ]; then
  echo "bin/vulndb is up to date"
elif rm -f bin/vulndb.stamp && go run ./scripts/vulndb -out bin/vulndb; then
  echo "$stamp" > bin/vulndb.stamp
else
  failed+=("building the vulnerability database")
fi
if [ -f bin/vulndb.stamp ] && ! go tool govulncheck -db "file://$PWD/bin/vulndb" ./...; then
  failed+=("govulncheck")
fi
took

if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAIL: lint found problems: ${failed[*]}" >&2
  exit 1
fi
echo "== lint passed"
