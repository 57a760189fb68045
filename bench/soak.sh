#!/bin/sh
# Soak: N suspend/resume cycles (1000 by default) for each recovery
# method, on fresh simulated hosts whose guest relays wpa_supplicant's
# socket. Each cycle is `suspend`, `resume`, `wait wifi -t 20`. It counts
# the cycles after which the Wi-Fi came back, the failures (a command
# that exited non-zero), and leaks: processes of the simulated host
# beyond the VM manager and bhyve, and files of the run directory beyond
# those a running guest has, after each cycle and after the last stop.
# Not part of make test: it takes some minutes per method.
#
#	sh bench/soak.sh [-n cycles] [path/to/wifibox]
set -eu
cd "$(dirname "$0")/.."
cycles=1000
if [ "${1:-}" = -n ]; then cycles=$2; shift 2; fi
wifibox=$(realpath "${1:-build/wifibox}")
uds='network=127.0.0.1:255.0.0.0
sockets="path=/var/run/wpa_supplicant/wlan0,user=root,group=0,mode=770,port=1291"'

# procs counts the processes of the simulated host in $1.
procs() { pgrep -fc -- "-S $1 |$1/usr/sbin/bhyve" || true; }

status=0
for method in restart_vmm suspend_guest suspend_vmm none; do
	dir=$(mktemp -d /tmp/wbsoak.XXXXXX)
	"$wifibox" sim init "$dir" >/dev/null
	printf 'recovery=%s\n' "$method" >"$dir/usr/local/etc/wifibox/core.conf"
	printf '%s\n' "$uds" >"$dir/usr/local/etc/wifibox/appliance/uds_passthru.conf"
	w() { "$wifibox" -S "$dir" "$@" >>"$dir/soak.out" 2>&1; }
	w start && w wait wifi -t 20
	files=$(find "$dir/var/run/wifibox" -mindepth 1 -maxdepth 1 | wc -l)
	back=0 failed=0 leaks=0 i=0
	while [ $i -lt "$cycles" ]; do
		i=$((i + 1))
		if ! w suspend || ! w resume; then failed=$((failed + 1)); fi
		if w wait wifi -t 20; then back=$((back + 1)); fi
		n=$(procs "$dir")
		f=$(find "$dir/var/run/wifibox" -mindepth 1 -maxdepth 1 | wc -l)
		if [ "$n" -gt 2 ] || [ "$f" -gt "$files" ]; then
			leaks=$((leaks + 1))
			echo "cycle $i: $n processes, $f files in the run directory" >>"$dir/soak.out"
		fi
	done
	w stop || failed=$((failed + 1))
	left=$(procs "$dir")
	printf '%-14s %d cycles: Wi-Fi back %d, failures %d, cycles with leaks %d, processes left after stop %d\n' \
		"$method" "$cycles" "$back" "$failed" "$leaks" "$left"
	if [ "$back" -ne "$cycles" ] || [ "$failed" -ne 0 ] || [ "$leaks" -ne 0 ] || [ "$left" -ne 0 ]; then
		status=1
		echo "  see $dir/soak.out"
	else
		rm -rf "$dir"
	fi
done
exit $status
