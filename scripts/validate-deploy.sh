#!/usr/bin/env bash
# Validate the deployment files without deploying anything.
#
#   scripts/validate-deploy.sh
#   NATS_SERVER=/tmp/nats-server scripts/validate-deploy.sh   # also let the real server parse the configs
#
# Build a nats-server of the pinned version with:
#   go build -o /tmp/nats-server github.com/nats-io/nats-server/v2
#
# Checks:
#   1. docker-compose.yml is a valid compose file (docker-compose or `docker compose`).
#   2. every file under deploy/k8s parses as YAML, every object has apiVersion,
#      kind and metadata.name, and kustomization.yaml lists exactly the manifests
#      present (plus `kubectl kustomize` renders it, when kubectl is installed).
#   3. every NATS configuration under deploy/ (deploy/**/*.conf and any file with
#      a `jetstream` block, such as the ConfigMap in deploy/k8s/nats.yaml) has
#      `sync_interval: always` in each JetStream block and no other sync_interval
#      (nothing acknowledged may exist only in memory; see docs/failures.md).
#   4. with $NATS_SERVER: `nats-server -t` accepts deploy/nats/nats.conf,
#      deploy/nats/cluster.conf and the config in deploy/k8s/nats.yaml, and the
#      server is at least 2.12.3.
#
# Exits non-zero if any check fails. Needs bash, python3 with PyYAML
# (Debian: apt-get install -y python3-yaml) and docker-compose or the docker
# compose plugin (Debian: apt-get install -y docker-compose).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

passed=0
failed=0
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

ok() {
	passed=$((passed + 1))
	printf 'ok    %s\n' "$*"
}
fail() {
	failed=$((failed + 1))
	printf 'FAIL  %s\n' "$*"
}
skip() {
	printf 'skip  %s\n' "$*"
}

# ---------------------------------------------------------------------------
# 1. docker-compose.yml
# ---------------------------------------------------------------------------
if command -v docker-compose >/dev/null 2>&1; then
	COMPOSE=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose)
else
	echo "validate-deploy: neither 'docker-compose' nor the 'docker compose' plugin is installed;" >&2
	echo "  install one (Debian: apt-get install -y docker-compose) to validate docker-compose.yml" >&2
	exit 1
fi

if "${COMPOSE[@]}" -f docker-compose.yml config -q >"$TMP/compose.out" 2>&1; then
	ok "docker-compose.yml is valid (${COMPOSE[*]} config -q)"
else
	fail "docker-compose.yml is not valid (${COMPOSE[*]} config -q):"
	sed 's/^/      /' "$TMP/compose.out"
fi

# ---------------------------------------------------------------------------
# 2. Kubernetes manifests parse as YAML
# ---------------------------------------------------------------------------
PYTHON=""
for candidate in python3 /usr/bin/python3; do
	if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' >/dev/null 2>&1; then
		PYTHON="$candidate"
		break
	fi
done
if [[ -z "$PYTHON" ]]; then
	echo "validate-deploy: python3 with PyYAML is needed to check the YAML files;" >&2
	echo "  install it (Debian: apt-get install -y python3-yaml, or pip install pyyaml)" >&2
	exit 1
fi

if "$PYTHON" - deploy/k8s >"$TMP/yaml.out" 2>&1 <<'PY'; then
import os
import sys

import yaml

root = sys.argv[1]
errors = []
manifests = []
for dirpath, _, names in os.walk(root):
    for name in sorted(names):
        path = os.path.join(dirpath, name)
        if not name.endswith((".yaml", ".yml")):
            errors.append(f"{path}: not a .yaml/.yml file")
            continue
        try:
            with open(path, encoding="utf-8") as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            errors.append(f"{path}: {e}")
            continue
        if not docs:
            errors.append(f"{path}: empty")
            continue
        if name in ("kustomization.yaml", "kustomization.yml"):
            continue
        manifests.append(os.path.relpath(path, root))
        for i, d in enumerate(docs):
            where = f"{path} (document {i + 1})"
            if not isinstance(d, dict):
                errors.append(f"{where}: not a mapping")
                continue
            for key in ("apiVersion", "kind"):
                if not d.get(key):
                    errors.append(f"{where}: missing {key}")
            if not (d.get("metadata") or {}).get("name"):
                errors.append(f"{where}: missing metadata.name")
        print(f"parsed {path}: {len(docs)} object(s)")

kpath = os.path.join(root, "kustomization.yaml")
if os.path.exists(kpath):
    with open(kpath, encoding="utf-8") as f:
        k = yaml.safe_load(f) or {}
    listed = k.get("resources") or []
    for r in listed:
        if not os.path.exists(os.path.join(root, r)):
            errors.append(f"{kpath}: lists {r}, which does not exist")
    for m in manifests:
        if m not in listed:
            errors.append(f"{kpath}: does not list {m}")
else:
    errors.append(f"{kpath}: missing")

for e in errors:
    print("error:", e)
sys.exit(1 if errors else 0)
PY
	sed 's/^/      /' "$TMP/yaml.out"
	ok "deploy/k8s: every file parses as YAML and kustomization.yaml lists every manifest"
else
	sed 's/^/      /' "$TMP/yaml.out"
	fail "deploy/k8s: YAML problems (above)"
fi

for f in docker-compose.yml deploy/otel-collector.yaml; do
	if "$PYTHON" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1], encoding="utf-8"))' "$f" >"$TMP/one.out" 2>&1; then
		ok "$f parses as YAML"
	else
		fail "$f does not parse as YAML:"
		sed 's/^/      /' "$TMP/one.out"
	fi
done

if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize deploy/k8s >"$TMP/rendered.yaml" 2>"$TMP/kustomize.err"; then
		ok "kubectl kustomize deploy/k8s renders $(grep -c '^kind:' "$TMP/rendered.yaml") objects"
	else
		fail "kubectl kustomize deploy/k8s failed:"
		sed 's/^/      /' "$TMP/kustomize.err"
	fi
else
	skip "kubectl not installed: kustomize rendering not checked"
fi

# ---------------------------------------------------------------------------
# 3. sync_interval: always in every NATS configuration
# ---------------------------------------------------------------------------
# A file is a NATS configuration if it is a .conf file under deploy/, or if it
# opens a `jetstream` block (after stripping # comments). Each JetStream block
# needs its own `sync_interval: always`, and no other sync_interval may appear.
mapfile -t nats_configs < <(
	{
		find deploy -type f -name '*.conf'
		find deploy -type f ! -name '*.md' -exec grep -lEi '^[[:space:]]*jetstream[[:space:]]*[:=]?[[:space:]]*\{' {} +
	} | sort -u
)
if [[ ${#nats_configs[@]} -eq 0 ]]; then
	fail "no NATS configuration found under deploy/"
fi
for f in "${nats_configs[@]}"; do
	stripped="$(sed -e 's/#.*$//' "$f")"
	blocks="$(grep -cEi '^[[:space:]]*jetstream[[:space:]]*[:=]?[[:space:]]*\{' <<<"$stripped" || true)"
	always="$(grep -cEi '^[[:space:]]*(sync_interval|sync)[[:space:]]*[:=][[:space:]]*"?always"?[[:space:]]*,?[[:space:]]*$' <<<"$stripped" || true)"
	other="$(grep -Ei '^[[:space:]]*(sync_interval|sync)[[:space:]]*[:=]' <<<"$stripped" | grep -cvEi '[:=][[:space:]]*"?always"?[[:space:]]*,?[[:space:]]*$' || true)"
	if [[ "$blocks" -lt 1 ]]; then
		fail "$f: NATS config without a jetstream block (JetStream is the system of record)"
	elif [[ "$other" -gt 0 ]]; then
		fail "$f: has a sync_interval other than 'always'"
	elif [[ "$always" -lt "$blocks" ]]; then
		fail "$f: $blocks jetstream block(s) but $always 'sync_interval: always' (nothing acknowledged may exist only in memory)"
	else
		ok "$f: sync_interval: always ($blocks jetstream block(s))"
	fi
done

# ---------------------------------------------------------------------------
# 4. The real nats-server parses the configurations
# ---------------------------------------------------------------------------
if [[ -n "${NATS_SERVER:-}" ]]; then
	if [[ ! -x "$NATS_SERVER" ]]; then
		fail "NATS_SERVER=$NATS_SERVER is not an executable file"
	elif ! "$NATS_SERVER" --help 2>&1 | grep -qE '^[[:space:]]*-t[[:space:]]'; then
		fail "$NATS_SERVER has no -t (test configuration) option"
	else
		version="$("$NATS_SERVER" --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
		if [[ -z "$version" ]]; then
			fail "could not read the version of $NATS_SERVER"
		elif [[ "$(printf '%s\n%s\n' 2.12.3 "$version" | sort -V | head -n1)" != 2.12.3 ]]; then
			fail "$NATS_SERVER is v$version; at least 2.12.3 is required (see docs/operations.md)"
		else
			ok "nats-server v$version (>= 2.12.3)"
		fi

		# The k8s ConfigMap's config, extracted.
		"$PYTHON" - deploy/k8s/nats.yaml "$TMP/k8s-nats.conf" <<'PY'
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as f:
    for d in yaml.safe_load_all(f):
        if d and d.get("kind") == "ConfigMap" and "nats.conf" in (d.get("data") or {}):
            with open(sys.argv[2], "w", encoding="utf-8") as out:
                out.write(d["data"]["nats.conf"])
            break
PY
		checks=(deploy/nats/nats.conf deploy/nats/cluster.conf)
		if [[ -s "$TMP/k8s-nats.conf" ]]; then
			checks+=("$TMP/k8s-nats.conf")
		else
			fail "deploy/k8s/nats.yaml: no ConfigMap with a nats.conf key"
		fi
		for conf in "${checks[@]}"; do
			label="$conf"
			[[ "$conf" == "$TMP/k8s-nats.conf" ]] && label="deploy/k8s/nats.yaml (ConfigMap nats-config)"
			[[ "$conf" == /* ]] || conf="$ROOT/$conf"
			# The cluster configs take server_name from the environment. Run
			# from $TMP so nothing the server might create lands in the tree.
			if (cd "$TMP" && SERVER_NAME=nats-0 "$NATS_SERVER" -t -c "$conf") >"$TMP/t.out" 2>&1; then
				ok "nats-server -t accepts $label"
			else
				fail "nats-server -t rejects $label:"
				sed 's/^/      /' "$TMP/t.out"
			fi
		done
	fi
else
	skip "NATS_SERVER not set: configs not checked by nats-server -t" \
		"(go build -o /tmp/nats-server github.com/nats-io/nats-server/v2 && NATS_SERVER=/tmp/nats-server $0)"
fi

echo
echo "validate-deploy: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
