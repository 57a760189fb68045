#!/bin/sh
# Tests rc.d/wifibox without FreeBSD: a copy of the script sources a
# stand-in rc.subr(8) instead of /etc/rc.subr, and its %%PREFIX%% leads to
# a stand-in wifibox that records its arguments. For each rc command the
# test checks which wifibox commands the service runs (none when
# wifibox_enable is not YES, and what rc.subr would refuse), and that the
# rcorder(8) header is the one the boot order relies on.
# Usage: sh scripts/rcd-test.sh [rc.d/wifibox]; exits non-zero on failure.
set -eu
script=${1:-rc.d/wifibox}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# The rcorder(8) header: boot order and the keywords of rc.shutdown,
# rc.suspend and rc.resume.
for line in '# PROVIDE: wifibox' '# BEFORE: netif' \
	'# REQUIRE: FILESYSTEMS sysctl kld' \
	'# KEYWORD: shutdown nojail suspend resume'; do
	grep -qx "$line" "$script" || fail "$script lacks the line: $line"
done

# The stand-in wifibox records each invocation.
mkdir -p "$tmp/prefix/sbin"
cat >"$tmp/prefix/sbin/wifibox" <<'STUB'
#!/bin/sh
echo "wifibox $*" >>"$RCD_TEST_LOG"
STUB
chmod 555 "$tmp/prefix/sbin/wifibox"

# The stand-in rc.subr: the parts of rc.subr(8) the script uses, with the
# same rules for rcvar, the one prefix, restart and extra_commands.
cat >"$tmp/rc.subr" <<'STUB'
load_rc_config() {
	[ "$1" = "$name" ] || { echo "load_rc_config $1, expected $name" >&2; exit 2; }
	[ -r "$RCD_TEST_RCCONF" ] && . "$RCD_TEST_RCCONF"
	return 0
}
checkyesno() {
	eval "_value=\${$1}"
	case $_value in
	[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	esac
	return 1
}
run_rc_command() {
	rc_arg=$1
	_one=
	case $rc_arg in one*) _one=1; rc_arg=${rc_arg#one} ;; esac
	case " start stop restart status rcvar $extra_commands " in
	*" $rc_arg "*) ;;
	*)
		echo "Usage: $0 [fast|force|one|quiet](start stop restart rcvar status $extra_commands)" >&2
		return 1
		;;
	esac
	if [ "$rc_arg" = rcvar ]; then
		echo "$rcvar"
		return 0
	fi
	if [ -z "$_one" ] && ! checkyesno "$rcvar"; then
		echo "Cannot '$rc_arg' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$rc_arg' instead of '$rc_arg'." >&2
		return 0
	fi
	if [ "$rc_arg" = restart ]; then
		run_rc_command "${_one:+one}stop" && run_rc_command "${_one:+one}start"
		return
	fi
	eval "_cmd=\${${rc_arg}_cmd:-}"
	[ -n "$_cmd" ] || { echo "no ${rc_arg}_cmd" >&2; return 1; }
	eval "$_cmd"
}
STUB

# The script under test, sourcing the stand-in and pointing at the
# stand-in wifibox; the substitution must hit exactly one line each.
[ "$(grep -c '^\. /etc/rc\.subr$' "$script")" = 1 ] ||
	fail "$script should source /etc/rc.subr exactly once"
grep -q '%%PREFIX%%/sbin/' "$script" || fail "$script does not run %%PREFIX%%/sbin/wifibox"
sed -e "s|^\. /etc/rc\.subr\$|. $tmp/rc.subr|" -e "s|%%PREFIX%%|$tmp/prefix|g" \
	"$script" >"$tmp/wifibox.rc"

RCD_TEST_LOG=$tmp/log
RCD_TEST_RCCONF=$tmp/rc.conf
export RCD_TEST_LOG RCD_TEST_RCCONF

# check RC_CONF COMMAND STATUS EXPECTED: runs the service with rc.conf
# holding RC_CONF and compares its exit status and the wifibox commands it
# ran (lines joined with "; ").
check() {
	printf '%s\n' "$1" >"$RCD_TEST_RCCONF"
	: >"$RCD_TEST_LOG"
	status=0
	sh "$tmp/wifibox.rc" "$2" >"$tmp/out" 2>&1 || status=$?
	ran=$(paste -s -d ';' "$RCD_TEST_LOG" | sed 's/;/; /g')
	if [ "$status" != "$3" ] || [ "$ran" != "$4" ]; then
		fail "[$1] service wifibox $2: exit $status, ran \"$ran\"; expected exit $3, ran \"$4\""
		sed 's/^/	/' "$tmp/out"
	else
		echo "ok: [$1] service wifibox $2 runs \"$4\""
	fi
}

on='wifibox_enable="YES"'
check "$on" start 0 "wifibox start"
check "$on" stop 0 "wifibox stop"
check "$on" status 0 "wifibox status"
check "$on" restart 0 "wifibox stop; wifibox start"
check "$on" suspend 0 "wifibox suspend"
check "$on" resume 0 "wifibox resume"
check "$on" reload 1 ""
check "$on" rcvar 0 ""
# Disabled by default: nothing runs, except with the one prefix.
check "" start 0 ""
check "" resume 0 ""
check 'wifibox_enable="NO"' stop 0 ""
check "" onestart 0 "wifibox start"
check "" onesuspend 0 "wifibox suspend"

# Run from rc.suspend/rc.resume the exit status of wifibox passes through.
sed -i.bak 's/^echo .*/&; exit 5/' "$tmp/prefix/sbin/wifibox"
check "$on" start 5 "wifibox start"

if [ "$failures" -ne 0 ]; then
	echo "rcd-test: $failures failure(s)"
	exit 1
fi
echo "rcd-test: all passed"
