#!/usr/bin/env bash
# Makes the secrets a distributed deployment needs (deploy/README.md, "Secrets"):
#
#   scripts/deploy-secrets.sh [DIR]          # files into DIR (default deploy/secrets, not tracked by git)
#   scripts/deploy-secrets.sh --k8s [DIR]    # the same, then prints the Kubernetes Secrets as YAML:
#                                            #   scripts/deploy-secrets.sh --k8s | kubectl apply -n consult -f -
#
# What it makes, keeping whatever DIR already holds (run it again to fill in what is missing;
# delete a file to replace it):
#   nats-{intake,routing,notify,admin}-password    a random password per NATS user
#   nats-passwords.conf                            the same for the NATS server (authorization.conf includes it)
#   redis-{intake,routing,notify,admin}-password   a random password per Redis ACL user
#   ca.pem, ca-key.pem                             a private certificate authority (keep ca-key.pem offline)
#   nats-server.pem, nats-server-key.pem           NATS's certificate: clients, and routes between servers
#   redis-server.pem, redis-server-key.pem         Redis's certificate
#
# The certificates name the hosts of compose (nats, nats-0..2, redis), of Kubernetes in namespace
# $NAMESPACE (default consult: nats, nats-N.nats-headless, redis, with .<ns>.svc[.cluster.local])
# and localhost, for health checks inside a container.
#
# DIR is made readable by its owner only; the files in it are readable by all, because compose
# bind-mounts each into containers that run as other users (the directory still keeps other local
# users out). Needs openssl.
set -euo pipefail

k8s=""
if [[ "${1:-}" == "--k8s" ]]; then
	k8s=1
	shift
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$ROOT/deploy/secrets}"
NAMESPACE="${NAMESPACE:-consult}"
command -v openssl >/dev/null || {
	echo "deploy-secrets: openssl is needed (Debian: apt-get install -y openssl)" >&2
	exit 1
}

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"
umask 022
made=()

password() {
	local f="$1-password"
	if [[ ! -s "$f" ]]; then
		openssl rand -hex 24 | tr -d '\n' >"$f"
		made+=("$f")
	fi
}

for user in intake routing notify admin; do
	password "nats-$user"
	password "redis-$user"
done

{
	echo "# Passwords of the NATS users, for the server (deploy/nats/authorization.conf includes it)."
	echo "# Made by scripts/deploy-secrets.sh from the nats-*-password files. Secret."
	for user in intake routing notify admin; do
		printf 'NATS_%s_PASSWORD: "%s"\n' "$(tr '[:lower:]' '[:upper:]' <<<"$user")" "$(cat "nats-$user-password")"
	done
} >nats-passwords.conf.tmp
mv nats-passwords.conf.tmp nats-passwords.conf

if [[ ! -s ca.pem || ! -s ca-key.pem ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=consult-broker internal CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout ca-key.pem -out ca.pem 2>/dev/null
	made+=(ca.pem ca-key.pem)
fi

# cert NAME USAGE SAN...: a key and a certificate signed by the CA, valid 825 days.
cert() {
	local name="$1" usage="$2"
	shift 2
	[[ -s "$name.pem" && -s "$name-key.pem" ]] && return
	local san
	san="$(printf '%s,' "$@")"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
		-keyout "$name-key.pem" -out "$name.csr" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 -out "$name.pem" \
		-extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
			"$usage" "${san%,}") 2>/dev/null
	rm -f "$name.csr" ca.srl
	made+=("$name.pem" "$name-key.pem")
}

svc=("$NAMESPACE.svc" "$NAMESPACE.svc.cluster.local")
# Routes between NATS servers check each other both ways, so NATS's certificate serves as a
# client certificate too.
cert nats-server serverAuth,clientAuth \
	DNS:nats DNS:nats-0 DNS:nats-1 DNS:nats-2 DNS:localhost IP:127.0.0.1 \
	"DNS:nats.${svc[0]}" "DNS:nats.${svc[1]}" \
	DNS:*.nats-headless "DNS:*.nats-headless.${svc[0]}" "DNS:*.nats-headless.${svc[1]}"
cert redis-server serverAuth \
	DNS:redis DNS:localhost IP:127.0.0.1 "DNS:redis.${svc[0]}" "DNS:redis.${svc[1]}"

chmod 644 -- *
chmod 600 ca-key.pem

if [[ ${#made[@]} -gt 0 ]]; then
	echo "deploy-secrets: made ${made[*]} in $DIR" >&2
else
	echo "deploy-secrets: $DIR already holds every secret; nothing made" >&2
fi

if [[ -n "$k8s" ]]; then
	command -v kubectl >/dev/null || {
		echo "deploy-secrets: --k8s needs kubectl" >&2
		exit 1
	}
	secret() {
		local name="$1"
		shift
		echo "---"
		kubectl create secret generic "$name" --dry-run=client -o yaml "$@"
	}
	secret nats-users --from-file=nats-passwords.conf
	secret nats-tls --from-file=ca.pem --from-file=server.pem=nats-server.pem --from-file=server-key.pem=nats-server-key.pem
	secret redis-users --from-file=redis-intake-password --from-file=redis-routing-password \
		--from-file=redis-notify-password --from-file=redis-admin-password
	secret redis-tls --from-file=ca.pem --from-file=redis-server.pem --from-file=redis-server-key.pem
	for s in intake routing notify; do
		secret "$s-credentials" --from-file=nats-password="nats-$s-password" \
			--from-file=redis-password="redis-$s-password" --from-file=ca.pem
	done
fi
