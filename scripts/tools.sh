#!/bin/sh
# Installs what the checks need and a fresh Debian machine may lack, from
# Debian's packages: gcc (the stand-in libvmmapi), binutils (readelf),
# bmake (the Makefile as FreeBSD's make reads it), mandoc, shellcheck, and
# zsh and bash-completion (to check the shell completions).
set -eu
missing=""
for tool in gcc:gcc readelf:binutils bmake:bmake mandoc:mandoc shellcheck:shellcheck zsh:zsh; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
[ -r /usr/share/bash-completion/bash_completion ] || missing="$missing bash-completion"
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "Not root: install these Debian packages yourself:$missing" >&2
	exit 1
fi
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
