#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 10s): the request body
# check, event decoding, consult.Apply, roster parsing, attachment sniffing and naming. `make
# test` runs it briefly (FUZZTIME=3s); `make fuzz` for longer. A failing input is saved under
# the package's testdata/fuzz/ by go test, where it becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
fuzztime="${FUZZTIME:-10s}"
n=0
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' services pkg internal scripts 2>/dev/null | xargs -n1 dirname | sort -u); do
  pkg="./$dir"
  for target in $(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | sort -u); do
    echo "== fuzz $target ($pkg, $fuzztime)"
    out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1) || { echo "$out" | grep -v "^fuzz: elapsed"; exit 1; }
    echo "$out" | tail -2
    n=$((n + 1))
  done
done
echo "== fuzz: $n targets ran for $fuzztime each"
