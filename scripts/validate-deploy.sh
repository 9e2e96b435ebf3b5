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
#   3. every NATS server configuration (deploy/nats/*.conf but authorization.conf, and any file
#      with a `jetstream` block, such as the ConfigMap in deploy/k8s/nats.yaml) has
#      `sync_interval: always` in each JetStream block and no other sync_interval
#      (nothing acknowledged may exist only in memory; see docs/failures.md).
#   4. least privilege (deploy/README.md): every NATS configuration requires a user
#      (authorization.conf included, no no_auth_user), with intake, routing and notify each
#      limited to its own permissions and reply inbox, none allowed to purge or delete CONSULTS
#      or AUDIT and notify not to append consult events; TLS on client connections and mutual
#      TLS on cluster routes; the ConfigMaps' copies of authorization.conf and of deploy/redis
#      are identical to the files; Redis has its default user off, each service's ACL user
#      without dangerous commands, and no plain port; each service in docker-compose.yml and
#      deploy/k8s logs in to NATS and Redis as its own user over TLS, with passwords and CA
#      read from mounted secret files, never from the environment; the code declares CONSULTS
#      and AUDIT with DenyDelete and DenyPurge; the NetworkPolicies deny by default and let
#      only the three services reach NATS and Redis.
#   5. with $NATS_SERVER: `nats-server -t` accepts deploy/nats/nats.conf,
#      deploy/nats/cluster.conf and the config in deploy/k8s/nats.yaml, each with its
#      authorization.conf and throwaway secrets made by scripts/deploy-secrets.sh in a
#      temporary directory (needs openssl), and the server is at least 2.12.3.
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
# A file is a NATS server configuration if it is a .conf file under deploy/nats (but
# authorization.conf, which they include), or if it opens a `jetstream` block (after
# stripping # comments). Each JetStream block needs its own `sync_interval: always`, and no
# other sync_interval may appear.
mapfile -t nats_configs < <(
	{
		find deploy/nats -type f -name '*.conf' ! -name authorization.conf
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
# 4. Least privilege: users, permissions, TLS, secrets from files, network policies
# ---------------------------------------------------------------------------
# Each check prints "ok|..." or "FAIL|...". See deploy/README.md ("Least privilege").
"${COMPOSE[@]}" -f docker-compose.yml config >"$TMP/compose-rendered.yaml" 2>/dev/null || true
while IFS='|' read -r verdict message; do
	case "$verdict" in
	ok) ok "$message" ;;
	FAIL) fail "$message" ;;
	*) fail "least-privilege check: $verdict $message" ;;
	esac
done < <("$PYTHON" - "$TMP/compose-rendered.yaml" "${nats_configs[@]}" <<'PY' 2>&1
import os
import re
import sys

import yaml

SERVICES = ("intake", "routing", "notify")
compose_rendered, nats_configs = sys.argv[1], sys.argv[2:]


def ok(msg):
    print(f"ok|{msg}")


def fail(msg):
    print(f"FAIL|{msg}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def strip_comments(text):
    # NATS configuration comments: # or // to the end of the line, outside quotes.
    out = []
    for line in text.splitlines():
        q, cut = None, len(line)
        for i, c in enumerate(line):
            if q:
                q = None if c == q else q
            elif c in "\"'":
                q = c
            elif c == "#" or line.startswith("//", i):
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def block(text, name):
    """The body of the first `name { ... }` block at any depth, or None."""
    m = re.search(r"(?m)^\s*" + re.escape(name) + r"\s*[:=]?\s*\{", text)
    if not m:
        return None
    depth, i = 1, m.end()
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end(): i - 1]


def without(text, name):
    b = block(text, name)
    return text if b is None else text.replace(b, "")


def nats_conf_texts():
    """(label, server config text, authorization.conf text beside it) for every server config."""
    out = []
    for path in nats_configs:
        if path.endswith(".yaml"):
            for d in docs(path):
                data = d.get("data") or {}
                if d.get("kind") == "ConfigMap" and "nats.conf" in data:
                    out.append((f"{path} (ConfigMap {d['metadata']['name']})", data["nats.conf"], data.get("authorization.conf")))
        else:
            beside = os.path.join(os.path.dirname(path), "authorization.conf")
            out.append((path, read(path), read(beside) if os.path.exists(beside) else None))
    return out


# NATS: no anonymous access, users with permissions, TLS on clients and routes.
shipped_auth = read("deploy/nats/authorization.conf")
for label, conf, auth in nats_conf_texts():
    c = strip_comments(conf)
    if "no_auth_user" in c:
        fail(f"{label}: no_auth_user lets clients in without a user")
    if not re.search(r'(?m)^\s*include\s+"?authorization\.conf"?', c) and block(c, "authorization") is None and block(c, "accounts") is None:
        fail(f"{label}: neither includes authorization.conf nor has an authorization or accounts block: anyone may connect")
    elif auth is None:
        fail(f"{label}: includes authorization.conf, which is not beside it")
    else:
        a = strip_comments(auth)
        problems = []
        if "no_auth_user" in a:
            problems.append("has no_auth_user")
        users = block(a, "authorization")
        if users is None:
            problems.append("has no authorization block")
        else:
            for svc in SERVICES:
                m = re.search(r"user:\s*" + svc + r"\b(.*?)\n\s*\}\s*\n\s*\}\s*\n\s*\}", users, re.S)
                if not m:
                    problems.append(f"has no user {svc}")
                    continue
                body = m.group(1)
                if "password:" not in body or "permissions" not in body:
                    problems.append(f"user {svc} lacks a password or permissions")
                if re.search(r'"\s*>\s*"', body):
                    problems.append(f"user {svc} may publish or subscribe to everything (>)")
                if f'"_INBOX.{svc}.>"' not in body:
                    problems.append(f"user {svc} does not receive replies on _INBOX.{svc}.> only")
                for stream in ("CONSULTS", "AUDIT"):
                    for op in ("PURGE", "DELETE"):
                        if re.search(r'"\$JS\.API\.STREAM\.' + op + r"\." + stream + r'"', body.split("deny")[0]):
                            problems.append(f"user {svc} may {op.lower()} {stream}")
            notify = re.search(r"user:\s*notify\b(.*?)subscribe", users, re.S)
            if notify and "consult.ev" in notify.group(1).split("deny")[0]:
                problems.append("user notify may append consult events")
        if problems:
            fail(f"{label}: authorization.conf " + "; ".join(problems))
        else:
            ok(f"{label}: users intake, routing, notify each with their own permissions and inbox; no anonymous access")
        if label.startswith("deploy/k8s") and auth != shipped_auth:
            fail(f"{label}: authorization.conf differs from deploy/nats/authorization.conf (copy it over)")
        elif label.startswith("deploy/k8s"):
            ok(f"{label}: authorization.conf is identical to deploy/nats/authorization.conf")
    outside = without(c, "cluster")
    tls = block(outside, "tls")
    if tls is None or "cert_file" not in tls or "key_file" not in tls:
        fail(f"{label}: client connections without TLS (no top-level tls block with cert_file and key_file)")
    else:
        ok(f"{label}: TLS on client connections")
    cluster = block(c, "cluster")
    if cluster is not None:
        ctls = block(cluster, "tls")
        if ctls is None or not re.search(r"verify\s*[:=]\s*true", ctls):
            fail(f"{label}: cluster routes without mutual TLS (cluster.tls with verify: true)")
        else:
            ok(f"{label}: mutual TLS on cluster routes")

# Redis: default user off, each service limited, TLS only; the ConfigMap copies.
acl = [l.split() for l in read("deploy/redis/users.acl").splitlines() if l.strip() and not l.lstrip().startswith("#")]
users = {l[1]: l[2:] for l in acl if len(l) > 1 and l[0] == "user"}
problems = []
if "off" not in users.get("default", []):
    problems.append("the default user is not off")
dangerous = ("+@all", "allcommands", "+@dangerous", "+@admin", "+flushall", "+flushdb", "+config", "+keys", "+debug",
             "+shutdown", "+acl", "+module", "+@keyspace")
for svc in SERVICES:
    rules = users.get(svc)
    if rules is None:
        problems.append(f"no user {svc}")
        continue
    if "-@all" not in rules:
        problems.append(f"user {svc} does not start from -@all")
    if any(r in dangerous for r in rules) or "~*" in rules or "allkeys" in rules:
        problems.append(f"user {svc} may run dangerous commands or touch every key")
    if not any(re.match(r"#\{" + svc + r"\}$", r) for r in rules):
        problems.append(f"user {svc} has no #{{{svc}}} password placeholder")
for name, rules in users.items():
    if name not in SERVICES + ("default", "admin") and not (set(rules) <= {"on", "nopass", "resetkeys", "resetchannels", "-@all", "+ping"}):
        problems.append(f"user {name} may do more than PING")
rconf = strip_comments(read("deploy/redis/redis.conf"))
if not re.search(r"(?m)^port\s+0\s*$", rconf) or not re.search(r"(?m)^tls-port\s+\d+", rconf):
    problems.append("redis.conf keeps a plain port open (want port 0 and tls-port)")
if problems:
    fail("deploy/redis: " + "; ".join(problems))
else:
    ok("deploy/redis: default user off, intake, routing, notify limited to their keys and commands, TLS only")
for d in docs("deploy/k8s/redis.yaml"):
    if d.get("kind") == "ConfigMap":
        for key in ("redis.conf", "users.acl", "start.sh"):
            if (d.get("data") or {}).get(key) != read(f"deploy/redis/{key}"):
                fail(f"deploy/k8s/redis.yaml: ConfigMap key {key} differs from deploy/redis/{key} (copy it over)")
            else:
                ok(f"deploy/k8s/redis.yaml: {key} is identical to deploy/redis/{key}")

# Each service's environment: its own users, secrets from files, TLS.
def check_env(where, svc, env, mounted):
    problems = []
    if env.get("NATS_USER") != svc:
        problems.append(f"NATS_USER is {env.get('NATS_USER')!r}, want {svc!r}")
    if env.get("REDIS_USERNAME") != svc:
        problems.append(f"REDIS_USERNAME is {env.get('REDIS_USERNAME')!r}, want {svc!r}")
    for key in ("NATS_PASSWORD_FILE", "REDIS_PASSWORD_FILE", "NATS_CA_FILE", "REDIS_CA_FILE"):
        path = env.get(key)
        if not path:
            problems.append(f"no {key}")
        elif not mounted(path):
            problems.append(f"{key}={path} is not in a mounted secret")
    for key in ("NATS_PASSWORD", "REDIS_PASSWORD", "SMTP_PASSWORD"):
        if env.get(key):
            problems.append(f"{key} in plain environment (use {key}_FILE)")
    if not str(env.get("REDIS_URL", "")).startswith("rediss://"):
        problems.append("REDIS_URL is not rediss://")
    if not str(env.get("NATS_URL", "")).startswith("tls://"):
        problems.append("NATS_URL is not tls://")
    if problems:
        fail(f"{where} {svc}: " + "; ".join(problems))
    else:
        ok(f"{where} {svc}: NATS user {svc}, Redis user {svc}, passwords and CA from mounted secret files, TLS")


try:
    compose = yaml.safe_load(open(compose_rendered, encoding="utf-8")) or {}
except (OSError, yaml.YAMLError):
    compose = {}
if not compose.get("services"):
    fail("docker-compose.yml: could not be rendered with its anchors; environment not checked")
for svc in SERVICES:
    s = (compose.get("services") or {}).get(svc)
    if s is None:
        if compose.get("services"):
            fail(f"docker-compose.yml: no service {svc}")
        continue
    env = s.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    targets = set()
    for sec in s.get("secrets") or []:
        src = sec if isinstance(sec, str) else sec.get("source")
        tgt = None if isinstance(sec, str) else sec.get("target")
        targets.add(tgt if tgt and tgt.startswith("/") else "/run/secrets/" + (tgt or src))
    check_env("docker-compose.yml", svc, env, lambda p: p in targets)
redis_compose = (compose.get("services") or {}).get("redis") or {}
if "start.sh" not in " ".join(map(str, redis_compose.get("command") or [])):
    fail("docker-compose.yml redis: not started by deploy/redis/start.sh (its users and TLS)")

for svc in SERVICES:
    for d in docs(f"deploy/k8s/{svc}.yaml"):
        if d.get("kind") != "Deployment":
            continue
        pod = d["spec"]["template"]["spec"]
        secret_volumes = {v["name"] for v in pod.get("volumes") or [] if "secret" in v or "projected" in v}
        for c in pod["containers"]:
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            for e in c.get("env") or []:
                if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]:
                    fail(f"deploy/k8s/{svc}.yaml: {e['name']} takes a secret into the environment; mount it as a file")
            mounts = [m["mountPath"].rstrip("/") + "/" for m in c.get("volumeMounts") or [] if m["name"] in secret_volumes]
            check_env(f"deploy/k8s/{svc}.yaml", svc, env, lambda p: any(p.startswith(m) for m in mounts))

# The record's deny rules, in the code that declares the streams.
for path, stream in (("pkg/nats/consultstore/store.go", "CONSULTS"), ("pkg/nats/auditlog/auditlog.go", "AUDIT")):
    code = read(path)
    if re.search(r"DenyDelete:\s*true", code) and re.search(r"DenyPurge:\s*true", code):
        ok(f"{path}: {stream} is declared with DenyDelete and DenyPurge")
    else:
        fail(f"{path}: {stream} is not declared with both DenyDelete: true and DenyPurge: true")

# Network policies: default deny; NATS and Redis reachable from the services only.
policies = {}
kust = yaml.safe_load(open("deploy/k8s/kustomization.yaml", encoding="utf-8")) or {}
for r in kust.get("resources") or []:
    for d in docs(os.path.join("deploy/k8s", r)):
        if d.get("kind") == "NetworkPolicy":
            policies[d["metadata"]["name"]] = d["spec"]
deny = [n for n, p in policies.items() if p.get("podSelector") in ({}, None) and not p.get("ingress")
        and {"Ingress", "Egress"} <= set(p.get("policyTypes") or [])]
if deny:
    ok(f"deploy/k8s: NetworkPolicy {deny[0]} denies all traffic not allowed otherwise")
else:
    fail("deploy/k8s: no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)")
for target, port in (("nats", 4222), ("redis", 6379)):
    ps = [p for p in policies.values() if (p.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name") == target]
    sources = set()
    for p in ps:
        for rule in p.get("ingress") or []:
            if port in [x.get("port") for x in rule.get("ports") or []]:
                for f in rule.get("from") or [{}]:
                    if set(f) != {"podSelector"}:
                        sources.add("outside the namespace or anyone")
                    else:
                        sources.add(f["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name", "?"))
    if sources and sources <= set(SERVICES):
        ok(f"deploy/k8s: {target}:{port} reachable only from {', '.join(sorted(sources))}")
    else:
        fail(f"deploy/k8s: {target}:{port} reachable from {sorted(sources) or 'nobody'}; want intake, routing and notify only")
PY
)

# ---------------------------------------------------------------------------
# 5. The real nats-server parses the configurations
# ---------------------------------------------------------------------------
# The configurations read their secrets from /etc/nats (authorization.conf includes
# secrets/nats-passwords.conf; the TLS files are under tls/). They are checked in a copy of
# that layout under a temporary directory, with secrets made there by scripts/deploy-secrets.sh.
if [[ -n "${NATS_SERVER:-}" ]]; then
	if [[ ! -x "$NATS_SERVER" ]]; then
		fail "NATS_SERVER=$NATS_SERVER is not an executable file"
	elif ! "$NATS_SERVER" --help 2>&1 | grep -qE '^[[:space:]]*-t[[:space:]]'; then
		fail "$NATS_SERVER has no -t (test configuration) option"
	elif ! scripts/deploy-secrets.sh "$TMP/secrets" >"$TMP/secrets.out" 2>&1; then
		fail "scripts/deploy-secrets.sh could not make throwaway secrets for nats-server -t:"
		sed 's/^/      /' "$TMP/secrets.out"
	else
		version="$("$NATS_SERVER" --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
		if [[ -z "$version" ]]; then
			fail "could not read the version of $NATS_SERVER"
		elif [[ "$(printf '%s\n%s\n' 2.12.3 "$version" | sort -V | head -n1)" != 2.12.3 ]]; then
			fail "$NATS_SERVER is v$version; at least 2.12.3 is required (see docs/operations.md)"
		else
			ok "nats-server v$version (>= 2.12.3)"
		fi

		# layout DIR AUTH: DIR/{authorization.conf, secrets/, tls/} as the deployments mount them.
		layout() {
			mkdir -p "$1/secrets" "$1/tls"
			cp "$2" "$1/authorization.conf"
			cp "$TMP/secrets/nats-passwords.conf" "$1/secrets/"
			cp "$TMP/secrets/ca.pem" "$1/tls/ca.pem"
			cp "$TMP/secrets/nats-server.pem" "$1/tls/server.pem"
			cp "$TMP/secrets/nats-server-key.pem" "$1/tls/server-key.pem"
		}
		checks=()
		for conf in deploy/nats/*.conf; do
			[[ "$(basename "$conf")" == authorization.conf ]] && continue
			d="$TMP/etc/$(basename "$conf" .conf)"
			layout "$d" deploy/nats/authorization.conf
			sed "s|/etc/nats/|$d/|g" "$conf" >"$d/nats.conf"
			checks+=("$conf|$d/nats.conf")
		done

		# The k8s ConfigMap's configuration and its own copy of authorization.conf, extracted.
		d="$TMP/etc/k8s"
		mkdir -p "$d"
		"$PYTHON" - deploy/k8s/nats.yaml "$d" <<'PY'
import os
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as f:
    for d in yaml.safe_load_all(f):
        if d and d.get("kind") == "ConfigMap" and "nats.conf" in (d.get("data") or {}):
            for key in ("nats.conf", "authorization.conf"):
                if key in d["data"]:
                    with open(os.path.join(sys.argv[2], key + ".in"), "w", encoding="utf-8") as out:
                        out.write(d["data"][key])
            break
PY
		if [[ -s "$d/nats.conf.in" && -s "$d/authorization.conf.in" ]]; then
			layout "$d" "$d/authorization.conf.in"
			sed "s|/etc/nats/|$d/|g" "$d/nats.conf.in" >"$d/nats.conf"
			checks+=("deploy/k8s/nats.yaml (ConfigMap nats-config)|$d/nats.conf")
		else
			fail "deploy/k8s/nats.yaml: no ConfigMap with nats.conf and authorization.conf keys"
		fi
		for check in "${checks[@]}"; do
			label="${check%%|*}"
			conf="${check#*|}"
			# The cluster configs take server_name from the environment. Run
			# from $TMP so nothing the server might create lands in the tree.
			if (cd "$TMP" && SERVER_NAME=nats-0 "$NATS_SERVER" -t -c "$conf") >"$TMP/t.out" 2>&1; then
				ok "nats-server -t accepts $label (with its users and TLS files)"
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
