#!/bin/sh
# Checks the FreeBSD integration: the manual page (mandoc lint, every
# cross-reference a page FreeBSD has), the shell code (shellcheck), the
# shell completions (scripts/completion-test.sh), the rc.d script
# (scripts/rcd-test.sh), the newsyslog entry, and the install
# target: GNU make and bmake must install the same files with the same
# modes and contents, and exactly the files of the port's pkg-plist.
# Usage: sh scripts/check-install.sh; exits non-zero when a check fails,
# after running all of them.
set -eu
cd "$(dirname "$0")/.."
port=packaging/freebsd/net/wifibox-core
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
step() { printf '\n== %s\n' "$*"; }

step "mandoc -T lint -W style man/wifibox.8"
# The manual pages wifibox(8) may refer to: FreeBSD's, and those of the
# guest's and socat's packages. A stand-in of each, in a manual tree of
# its own, lets mandoc report a reference to any other page.
for page in cu.1 chmod.1 nice.1 sh.1 socat.1 tail.1 \
	bridge.4 iwlwifi.4 iwm.4 nmdm.4 tap.4 vmm.4 \
	devd.conf.5 loader.conf.5 newsyslog.conf.5 rc.conf.5 sysctl.conf.5 \
	wifibox-guest.5 \
	bhyve.8 chown.8 daemon.8 devd.8 devmatch.8 dhclient.8 hostapd.8 ifconfig.8 kldunload.8 \
	newsyslog.8 pkg.8 pciconf.8 rc.8 rc.subr.8 service.8 sysctl.8 sysrc.8 wpa_cli.8 \
	wpa_supplicant.8; do
	name=${page%.*}
	section=${page##*.}
	mkdir -p "$tmp/man/man$section"
	printf '.Dd January 1, 2000\n.Dt %s %s\n.Os\n.Sh NAME\n.Nm %s\n.Nd stand-in\n' \
		"$name" "$section" "$name" >"$tmp/man/man$section/$page"
done
makewhatis "$tmp/man"
lint=$(MANPATH=$tmp/man mandoc -T lint -W style man/wifibox.8 2>&1) || true
if [ -n "$lint" ]; then
	fail "mandoc has something to say about man/wifibox.8:"
	printf '%s\n' "$lint"
fi

step "the SYNOPSIS is the production tool's: no simulated host"
if sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' man/wifibox.8 | grep -E 'Fl S|Cm sim|SIMULATE'; then
	fail "the SYNOPSIS of man/wifibox.8 names the simulated host"
fi

step "shellcheck"
shellcheck -s sh rc.d/wifibox scripts/*.sh bench/*.sh .ci/run ||
	fail "shellcheck"

step "shell completions"
shellcheck -s bash completion/wifibox.bash || fail "shellcheck completion/wifibox.bash"
sh scripts/completion-test.sh || fail "scripts/completion-test.sh"

step "rc.d script"
sh scripts/rcd-test.sh rc.d/wifibox || fail "scripts/rcd-test.sh"

step "newsyslog entry: /var/log/wifibox.log, no process signalled"
entry=$(grep -v '^#' newsyslog/wifibox.conf | grep -v '^[[:space:]]*$')
echo "$entry"
# logfilename owner:group mode count size when flags: seven fields, the
# N flag, and no pid file or signal after them.
echo "$entry" | awk 'NR > 1 || NF != 7 || $1 != "/var/log/wifibox.log" || $7 !~ /N/ { exit 1 }' ||
	fail "newsyslog/wifibox.conf should be one seven-field entry for /var/log/wifibox.log with the N flag"

step "make install under GNU make and bmake"
# A stand-in for the program, built (as install checks) with the default
# paths.
mkdir -p "$tmp/build"
printf '#!/bin/sh\n' >"$tmp/build/wifibox"
# shellcheck disable=SC2016 # bmake expands it
bmake -V '${BUILT}' >"$tmp/build/wifibox.built"
# listing DIR: each file below DIR/usr/local with its mode, and each
# symbolic link as "link", sorted.
listing() {
	(cd "$1/usr/local" && find . -type f -o -type l | sed 's|^\./||' | sort |
		while read -r f; do
			if [ -L "$f" ]; then
				echo "link $f"
			else
				echo "$(stat -c %a "$f" 2>/dev/null || stat -f %Lp "$f") $f"
			fi
		done)
}
make -s install BUILDDIR="$tmp/build" DESTDIR="$tmp/gnu" >/dev/null || fail "make install"
bmake install BUILDDIR="$tmp/build" DESTDIR="$tmp/bsd" >/dev/null || fail "bmake install"
listing "$tmp/gnu" >"$tmp/gnu.list"
listing "$tmp/bsd" >"$tmp/bsd.list"
cat "$tmp/gnu.list"
diff -u "$tmp/gnu.list" "$tmp/bsd.list" || fail "GNU make and bmake install different files or modes"
diff -r --no-dereference "$tmp/gnu" "$tmp/bsd" >/dev/null || fail "GNU make and bmake install different contents"
if grep -rlI '%%[A-Z_][A-Z_]*%%' "$tmp/gnu" >"$tmp/unsubst"; then
	fail "placeholders left in: $(cat "$tmp/unsubst")"
fi
# A second install over the first replaces the read-only files.
make -s install BUILDDIR="$tmp/build" DESTDIR="$tmp/gnu" >/dev/null || fail "make install over an installation"

step "make on FreeBSD builds the release: nosim, no cgo"
for mk in make bmake; do
	$mk -n OS=FreeBSD | grep -q '^env CGO_ENABLED=0 go build -tags nosim ' ||
		fail "$mk on FreeBSD does not build the release (-tags nosim, CGO_ENABLED=0)"
done

step "make install PREFIX=/opt/wb installs a program built for /opt/wb, or refuses"
# The program's paths are fixed when it is built: an install under
# another PREFIX refuses the program built for /usr/local, saying how to
# build it, and installs the one built for its PREFIX, whose paths (here
# those a simulated host gets) are under /opt/wb but for the guest's
# images, which stay under LOCALBASE.
for mk in make bmake; do
	if $mk -s install BUILDDIR="$tmp/build" DESTDIR="$tmp/$mk-refused" PREFIX=/opt/wb 2>"$tmp/refused" >/dev/null; then
		fail "$mk install PREFIX=/opt/wb installed a program built for /usr/local"
	fi
	grep -q 'make PREFIX=/opt/wb ' "$tmp/refused" || fail "$mk install PREFIX=/opt/wb does not say to build for it: $(cat "$tmp/refused")"
	[ ! -e "$tmp/$mk-refused/opt/wb/sbin/wifibox" ] || fail "$mk install PREFIX=/opt/wb refused, but installed the program"
	$mk -s BUILDDIR="$tmp/$mk-build" PREFIX=/opt/wb >/dev/null || fail "$mk PREFIX=/opt/wb"
	$mk -s install BUILDDIR="$tmp/$mk-build" DESTDIR="$tmp/$mk-opt" PREFIX=/opt/wb >/dev/null ||
		fail "$mk install PREFIX=/opt/wb after $mk PREFIX=/opt/wb"
	grep -q '/opt/wb/etc/wifibox' "$tmp/$mk-opt/opt/wb/etc/rc.d/wifibox" ||
		fail "$mk install PREFIX=/opt/wb: the rc.d script does not name /opt/wb"
	if [ "$(uname -s)" != FreeBSD ]; then # elsewhere the program has the simulated host
		sim=$tmp/$mk-sim
		"$tmp/$mk-opt/opt/wb/sbin/wifibox" -S "$sim" sim init "$sim" >/dev/null || fail "$mk: sim init"
		for f in opt/wb/etc/wifibox/core.conf usr/local/share/wifibox/root.img; do
			[ -e "$sim/$f" ] || fail "$mk PREFIX=/opt/wb: the program's host has no /$f"
		done
		[ ! -e "$sim/usr/local/etc/wifibox" ] || fail "$mk PREFIX=/opt/wb: the program still uses /usr/local/etc/wifibox"
	fi
done

step "installed files against $port/pkg-plist"
# Stand-ins for the ports framework, enough to read the port's PLIST_SUB.
mkdir -p "$tmp/mk"
# The options are the defaults unless PORT_OPTIONS is given; the framework
# sets the examples' PLIST_SUB from EXAMPLES.
cat >"$tmp/mk/bsd.port.options.mk" <<'MK'
OSVERSION?=	1500000
PORT_OPTIONS?=	${OPTIONS_DEFAULT}
EXAMPLESDIR?=	${PREFIX}/share/examples/${PORTNAME}
PLIST_SUB+=	EXAMPLESDIR=share/examples/${PORTNAME}
.for opt in ${PORT_OPTIONS}
.  for v in ${${opt}_VARS}
${v:C/=.*//}=	${v:C/^[^=]*=//}
.  endfor
.endfor
.if ${PORT_OPTIONS:MEXAMPLES}
PLIST_SUB+=	PORTEXAMPLES=""
.else
PLIST_SUB+=	PORTEXAMPLES="@comment "
.endif
MK
echo 'PREFIX?=	/usr/local' >"$tmp/mk/sys.mk"
: >"$tmp/mk/bsd.port.mk"
sed 's/^[^ ]* //' "$tmp/gnu.list" >"$tmp/installed"
for osversion in 1302000 1500000; do
	# shellcheck disable=SC2016 # bmake expands it
	if ! plist_sub=$(bmake -f "$port/Makefile" -m "$tmp/mk" OSVERSION=$osversion -V '${PLIST_SUB}'); then
		fail "bmake cannot read $port/Makefile"
		continue
	fi
	# PLIST_SUB is KEY=VALUE words, VALUE possibly quoted; eval turns
	# each into a sed substitution of %%KEY%%.
	subst=
	eval "set -- $plist_sub"
	for kv in "$@"; do subst="$subst;s|%%${kv%%=*}%%|${kv#*=}|g"; done
	sed "${subst#;}" "$port/pkg-plist" >"$tmp/plist.$osversion"
	if grep '%%' "$tmp/plist.$osversion"; then
		fail "OSVERSION $osversion: pkg-plist has placeholders that PLIST_SUB does not set"
	fi
	# The files: @sample gives the sample's path, the port compresses the
	# manual page, and USE_RC_SUBR adds the rc.d script.
	{
		sed -e 's/^@sample //' -e '/^@/d' -e 's|^\(share/man/.*\)\.gz$|\1|' "$tmp/plist.$osversion"
		echo etc/rc.d/wifibox
	} | sort >"$tmp/expected"
	diff -u "$tmp/expected" "$tmp/installed" ||
		fail "OSVERSION $osversion: pkg-plist (-) and the installed files (+) differ"
	grep '^@sample' "$tmp/plist.$osversion" | grep -v '\.sample$' &&
		fail "OSVERSION $osversion: @sample of a file not named .sample"
done
grep -q '^@sample etc/devd/' "$tmp/plist.1302000" ||
	fail "before 14.0 the devd hook should be put in place (@sample)"
grep -q '^etc/devd/wifibox.conf.sample$' "$tmp/plist.1500000" ||
	fail "from 14.0 on the devd hook should stay a sample"
cmp "$port/files/wifibox.in" rc.d/wifibox || fail "$port/files/wifibox.in is not rc.d/wifibox"
links=$(find "$port" -type l)
[ -z "$links" ] || fail "the port holds symbolic links, which a ports tree cannot take: $links"
guest_man=$(bmake -f "$port/Makefile" -m "$tmp/mk" -V _GUEST_MAN)
link=$(readlink "$tmp/gnu/usr/local/share/man/man5/wifibox-guest.5")
[ "$link" = "$guest_man" ] ||
	fail "wifibox-guest.5 links to '$link', the port says the guest's page is '$guest_man'"

step "the port's RECOVER_* option: the built-in recovery and the sample core.conf's"
for method in restart_vmm suspend_guest suspend_vmm none; do
	option=RECOVER_$(echo "$method" | tr '[:lower:]' '[:upper:]')
	mkdir -p "$tmp/wrk/etc"
	cp etc/core.conf.sample "$tmp/wrk/etc/"
	bmake -f "$port/Makefile" -m "$tmp/mk" PORT_OPTIONS="$option" WRKSRC="$tmp/wrk" \
		REINPLACE_CMD="sed -i.bak" post-patch >/dev/null ||
		fail "$option: the port's post-patch fails"
	got=$(grep '^recovery=' "$tmp/wrk/etc/core.conf.sample")
	echo "$option: $got"
	[ "$got" = "recovery=$method" ] || fail "$option gives $got in core.conf.sample"
	# shellcheck disable=SC2016 # bmake expands it
	bmake -f "$port/Makefile" -m "$tmp/mk" PORT_OPTIONS="$option" -V '${GO_BUILDFLAGS}' |
		grep -q -- "-X github.com/wifibox/wifibox/config.defaultRecovery=$method\"" ||
		fail "$option does not build in recovery $method"
done

step "the port as Mk/Uses/go.mk reads it: USES=go:N.NN, go.mod's Go, a stripped binary"
# go.mk takes a version only as N.NN or N.NN-devel (no ranges, no "+"),
# and it must be a Go of the ports tree; go.mod's go directive must not
# ask for a newer one.
uses=$(bmake -f "$port/Makefile" -m "$tmp/mk" -V USES)
echo "USES=$uses, go.mod: $(grep '^go ' go.mod)"
go_arg=$(echo "$uses" | tr ' ' '\n' | sed -n 's/^go:\([^,]*\).*/\1/p')
echo "$go_arg" | grep -Eqx '[1-9]\.[0-9][0-9]' || fail "USES=go takes N.NN, not '$go_arg'"
[ "$(sed -n 's/^go \([0-9]*\.[0-9]*\).*/\1/p' go.mod)" = "$go_arg" ] ||
	fail "go.mod's go directive and the port's USES=go:$go_arg name different Go releases"
# An -ldflags of the port's own keeps go.mk from adding -ldflags=-s.
# shellcheck disable=SC2016 # bmake expands it
{
	bmake -f "$port/Makefile" -m "$tmp/mk" -V '${GO_BUILDFLAGS}' | grep -q -- '-ldflags="-s ' ||
		fail "the port's -ldflags do not strip the binary (-s)"
	if bmake -f "$port/Makefile" -m "$tmp/mk" WITH_DEBUG=yes -V '${GO_BUILDFLAGS}' | grep -q -- '-ldflags="-s '; then
		fail "the port strips the binary under WITH_DEBUG"
	fi
}

step "$port/distinfo: the module's .mod and .zip of DISTVERSION, in go.mk's form"
# go.mk: DIST_SUBDIR=go/${PKGORIGIN:S,/,_,g}/${DISTNAME}, the files
# ${DISTVERSIONFULL}.mod and .zip.
port_var() { bmake -f "$port/Makefile" -m "$tmp/mk" "$@"; }
version=$(port_var -V DISTVERSION)
# shellcheck disable=SC2016 # bmake expands it
full=$(port_var -V '${DISTVERSIONPREFIX}${DISTVERSION}')
subdir=go/net_wifibox-core/$(port_var -V PORTNAME)-$full
for file in "$subdir/$full.mod" "$subdir/$full.zip"; do
	grep -Eq "^SHA256 \($file\) = [0-9a-f]{64}\$" "$port/distinfo" ||
		fail "distinfo has no SHA256 line for $file"
	grep -Eq "^SIZE \($file\) = [0-9]+\$" "$port/distinfo" ||
		fail "distinfo has no SIZE line for $file"
done
grep -Ev '^(TIMESTAMP = [0-9]+|(SHA256|SIZE) \([^)]*\) = [0-9a-f]+)$' "$port/distinfo" &&
	fail "distinfo has lines of another form"
# The .mod go.mk fetches is the tag's go.mod: this tree's.
mod_sum=$( (sha256sum go.mod 2>/dev/null || sha256 -r go.mod) | cut -d" " -f1)
mod_size=$(wc -c <go.mod | tr -d ' ')
if ! grep -q "^SHA256 ($subdir/$full.mod) = $mod_sum\$" "$port/distinfo" ||
	! grep -q "^SIZE ($subdir/$full.mod) = $mod_size\$" "$port/distinfo"; then
	fail "distinfo's .mod is not this go.mod: SHA256 $mod_sum, SIZE $mod_size (packaging/README.md)"
fi
if grep -Eq ' = 0{64}$' "$port/distinfo"; then
	echo "note: distinfo is a placeholder until v$version is tagged (packaging/README.md)"
fi
if ! grep -q '^LICENSE_FILE=.*/LICENSE$' "$port/Makefile" || [ ! -f LICENSE ]; then
	fail "the port's LICENSE_FILE needs the project's LICENSE"
fi

step "one release: Makefile's RELEASE, the port's DISTVERSION, the program's built-in version"
release=$(bmake -V RELEASE)
builtin=$(sed -n 's/^var version = "\(.*\)"$/\1/p' app/app.go)
echo "Makefile $release, port $version, app/app.go $builtin"
if [ "$release" != "$version" ] || [ "$release" != "$builtin" ]; then
	fail "the release differs: Makefile $release, port $version, app/app.go $builtin"
fi

step "the port sets what the Makefile sets at link time"
# xnames FILE PREFIX: the symbols FILE sets with -X PREFIX/symbol=...
xnames() { grep -o -- "-X $2/[A-Za-z.]*" "$1" | sed "s|.*/||" | sort; }
# shellcheck disable=SC2016 # the variable names as the files spell them
{
	xnames Makefile '${PKG}' >"$tmp/x.make"
	xnames "$port/Makefile" '${GO_MODULE}' >"$tmp/x.port"
}
cat "$tmp/x.make"
diff -u "$tmp/x.make" "$tmp/x.port" || fail "-X flags of Makefile (-) and the port (+) differ"

echo
if [ "$failures" -ne 0 ]; then
	echo "check-install: $failures failure(s)"
	exit 1
fi
echo "check-install: all passed"
