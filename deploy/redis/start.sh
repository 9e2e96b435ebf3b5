#!/bin/sh
# Starts redis-server with the users of users.acl and their passwords (deploy/README.md).
#
#   sh start.sh [redis-server options...]
#
# Each #{name} in users.acl becomes #<SHA-256 of the password in $REDIS_SECRETS/redis-<name>-password>
# (its final line break left out); comment and blank lines are dropped, as Redis reads no comments
# in an ACL file. A missing or empty password file stops the start. Paths can be moved for tests:
# REDIS_CONFIG (/etc/redis/redis.conf), REDIS_USERS (/etc/redis/users.acl), REDIS_SECRETS
# (/run/secrets), REDIS_ACL (the rendered file, /data/users.acl: working storage, not kept).
set -eu
config="${REDIS_CONFIG:-/etc/redis/redis.conf}"
users="${REDIS_USERS:-/etc/redis/users.acl}"
secrets="${REDIS_SECRETS:-/run/secrets}"
acl="${REDIS_ACL:-/data/users.acl}"

umask 077
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$users" >"$acl.tmp"
for name in $(grep -o '#{[a-z]*}' "$acl.tmp" | tr -d '#{}' | sort -u); do
	file="$secrets/redis-$name-password"
	if [ ! -s "$file" ]; then
		echo "start.sh: $file is missing or empty: the password of the Redis user $name" >&2
		exit 1
	fi
	hash="$(printf '%s' "$(cat "$file")" | sha256sum | cut -d' ' -f1)"
	sed -i "s/#{$name}/#$hash/" "$acl.tmp"
done
mv "$acl.tmp" "$acl"
exec redis-server "$config" --aclfile "$acl" "$@"
