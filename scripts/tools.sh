#!/bin/sh
# Installs what the checks need and a fresh Debian machine may lack, from
# Debian's packages: gcc (the stand-in libvmmapi), binutils (readelf),
# bmake (the Makefile as FreeBSD's make reads it), mandoc, shellcheck, and
# zsh and bash-completion (to check the shell completions); and, for the
# relay's test on the real chain (relay/realchain_linux_test.go, which runs
# as root only), wpasupplicant, hostapd, socat and iproute2; and
# staticcheck, from the Go module proxy, into $(go env GOPATH)/bin.
set -eu
PATH=$PATH:/usr/sbin:/sbin
STATICCHECK_VERSION=v0.8.2
if ! "$(go env GOPATH)/bin/staticcheck" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
	echo "Installing staticcheck $STATICCHECK_VERSION"
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
missing=""
for tool in gcc:gcc readelf:binutils bmake:bmake mandoc:mandoc shellcheck:shellcheck zsh:zsh; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
[ -r /usr/share/bash-completion/bash_completion ] || missing="$missing bash-completion"
chain=""
for tool in wpa_supplicant:wpasupplicant hostapd:hostapd socat:socat ip:iproute2; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || chain="$chain ${tool#*:}"
done
if [ "$(id -u)" -ne 0 ]; then
	[ -z "$chain" ] || echo "Not root: the real-chain test is skipped; it needs root and:$chain" >&2
	[ -z "$missing" ] && exit 0
	echo "Not root: install these Debian packages yourself:$missing" >&2
	exit 1
fi
missing="$missing$chain"
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
