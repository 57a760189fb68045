#!/bin/sh
# The demo: wifibox on a fresh simulated FreeBSD host, a full
# start / status / restart vmm / stop cycle, then the log and the trace of
# every privileged operation the host received.
set -eu
wifibox=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
dir=$(mktemp -d /tmp/wifibox-demo.XXXXXX)
trap '"$wifibox" -S "$dir" stop >/dev/null 2>&1 || true' EXIT

show() {
	printf '\n$ wifibox %s\n' "$*"
	"$wifibox" -S "$dir" "$@" || printf '(exit status %d)\n' "$?"
}

"$wifibox" sim init "$dir"
export WIFIBOX_SIMULATE="$dir"
# The guest's wpa_supplicant control socket, passed through to the host.
cat >"$dir/usr/local/etc/wifibox/appliance/uds_passthru.conf" <<'CONF'
network=127.0.0.1:255.0.0.0
_sockdir=/var/run/wpa_supplicant
_perms="user=root,group=0,mode=770"
sockets="path=${_sockdir}/wlan0,${_perms},port=1200"
CONF
show status
show start
show status -v
if command -v wpa_cli >/dev/null 2>&1; then
	printf '\n$ wpa_cli -p %s/var/run/wpa_supplicant -i wlan0 ping\n' "$dir"
	wpa_cli -p "$dir/var/run/wpa_supplicant" -i wlan0 ping
fi
show restart vmm
show status
show stop
show status
printf '\n== %s/var/log/wifibox.log\n' "$dir"
cat "$dir/var/log/wifibox.log"
printf '\n== %s/trace.log (every privileged operation, in order)\n' "$dir"
cat "$dir/trace.log"
printf "\nThe simulated host stays in %s: try wifibox -S %s start\n" "$dir" "$dir"
trap - EXIT
