#!/bin/sh
# Install Debian packages that the tests need (chromium, nginx, npm) where they are missing,
# without starting any service: the tests run their own nginx on free ports, never a system
# one on port 80. Usage: install-system-packages.sh PACKAGE... (as root; apt-get).
set -eu
[ "$#" -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-system-packages: not root; install these yourself: $*" >&2
	exit 0
fi
# invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d before starting a service;
# exit 101 means "forbidden". Leave one that is already there (containers ship one) alone.
POLICY=/usr/sbin/policy-rc.d
created=""
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# installed by calendar-service make test; removed after apt-get\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	created=yes
fi
status=0
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" || status=$?
if [ -n "$created" ]; then rm -f "$POLICY"; fi
for package in "$@"; do
	[ "$package" = nginx ] || continue
	# The package enables its service for the next boot; this machine only needs the binary.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
	if command -v update-rc.d >/dev/null 2>&1; then update-rc.d nginx disable >/dev/null 2>&1 || true; fi
	# Started anyway (a policy that allowed it): stop the package's nginx, by its pid file.
	if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
		/usr/sbin/nginx -s quit || true
	fi
done
exit "$status"
