#!/bin/sh
# Fail if anything listens on TCP PORT (default 80), read from /proc/net/tcp and tcp6:
# after `make test` no system nginx (or anything else) may be left serving there.
set -eu
port="${1:-80}"
hex=$(printf '%04X' "$port")
# Column 2 is local address:port in hex, column 4 the state; 0A is LISTEN.
listening=$(awk -v port="$hex" 'FNR > 1 && $4 == "0A" { split($2, local, ":"); if (toupper(local[2]) == port) print FILENAME ": " $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || true)
if [ -n "$listening" ]; then
	echo "port-free: something listens on port $port after the tests:" >&2
	echo "$listening" >&2
	exit 1
fi
echo "port-free: nothing listens on port $port"
