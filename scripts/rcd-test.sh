#!/bin/sh
# Tests rc.d/wifibox as rc.subr(8) runs it. On FreeBSD the script sources
# the system's own /etc/rc.subr. Elsewhere it sources a stand-in that
# reproduces, for the paths this script reaches, run_rc_command of
# FreeBSD's libexec/rc/rc.subr as read at freebsd-src 0227451 (main after
# 14.2): the one/force/fast prefixes, the pid check through check_process
# or check_pidfile when command= or procname= is set (against the real
# process table, by ps(1)), the refusal to start while such a process
# runs, the rcvar check and its exemptions, a custom COMMAND_cmd run
# through _run_rc_doit, whose failure becomes exit status 1, and restart
# as stop and start in subshells. Its %%PREFIX%% leads to a stand-in
# wifibox that records its arguments and exits with $RCD_TEST_EXIT.
# The test also checks the rcorder(8) header against the headers of the
# base scripts it names (testdata/rcorder-base.txt) with tsort(1).
# Usage: sh scripts/rcd-test.sh [rc.d/wifibox]; exits non-zero on failure.
set -eu
script=${1:-rc.d/wifibox}
base=$(dirname "$0")/../testdata/rcorder-base.txt
tmp=$(mktemp -d)
sleeper=
trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# The rcorder(8) header: boot order and the keywords of rc.shutdown,
# rc.suspend and rc.resume.
for line in '# PROVIDE: wifibox' '# BEFORE: devmatch netif' \
	'# REQUIRE: FILESYSTEMS sysctl kld' \
	'# KEYWORD: shutdown nojail suspend resume'; do
	grep -qx "$line" "$script" || fail "$script lacks the line: $line"
done

# Boot order: with the base scripts' headers, wifibox comes after what it
# requires and before devmatch (which would load the card's native driver
# before ppt can claim it) and netif, and the order has no cycle.
{
	grep -v '^#' "$base" | while IFS='|' read -r p r b; do
		for x in $r; do echo "$x $p"; done
		for x in $b; do echo "$p $x"; done
	done
	sed -n 's/^# REQUIRE: //p' "$script" | tr ' ' '\n' | sed -n 's/.$/& wifibox/p'
	sed -n 's/^# BEFORE: //p' "$script" | tr ' ' '\n' | sed -n 's/^./wifibox &/p'
} >"$tmp/edges"
if ! tsort "$tmp/edges" >"$tmp/order" 2>"$tmp/tsort.err"; then
	fail "the boot order has a cycle: $(cat "$tmp/tsort.err")"
fi
pos() { grep -nx "$1" "$tmp/order" | cut -d: -f1; }
for x in FILESYSTEMS sysctl kld; do
	[ "$(pos "$x")" -lt "$(pos wifibox)" ] || fail "rcorder puts wifibox before $x"
done
for x in devmatch netif; do
	[ "$(pos wifibox)" -lt "$(pos "$x")" ] || fail "rcorder puts wifibox after $x"
done

# The stand-in wifibox records each invocation.
mkdir -p "$tmp/prefix/sbin"
cat >"$tmp/prefix/sbin/wifibox" <<'STUB'
#!/bin/sh
echo "wifibox $*" >>"$RCD_TEST_LOG"
exit "${RCD_TEST_EXIT:-0}"
STUB
chmod 555 "$tmp/prefix/sbin/wifibox"

if [ "$(uname -s)" = FreeBSD ] && [ -r /etc/rc.subr ]; then
	subr=/etc/rc.subr
	echo "rc.subr: the system's, $(uname -r)"
else
	subr=$tmp/rc.subr
	echo "rc.subr: the stand-in of freebsd-src 0227451"
	cat >"$subr" <<'STUB'
load_rc_config() {
	[ "$1" = "$name" ] || { echo "load_rc_config $1, expected $name" >&2; exit 2; }
	[ -r "$RCD_TEST_RCCONF" ] && . "$RCD_TEST_RCCONF"
	return 0
}
checkyesno() {
	eval "_value=\${$1}"
	case $_value in
	[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]|0) return 1 ;;
	esac
	echo "\$$1 is not set properly - see rc.conf(5)." >&2
	return 1
}
# _find_processes: the first word of each command is matched against
# procname, its basename, and the basename with ":", "(...)" or "[...]".
check_process() {
	_bn=${1##*/}
	ps -ww -ax -o pid= -o command= | while read -r _npid _arg0 _rest; do
		case $_arg0 in
		"$1"|"$_bn"|"$_bn:"|"($_bn)"|"[$_bn]") printf '%s ' "$_npid" ;;
		esac
	done
}
check_pidfile() {
	[ -f "$1" ] || return 0
	read -r _pid _junk <"$1"
	[ -n "$_pid" ] || return 0
	check_process "$2" | tr ' ' '\n' | grep -x "$_pid" || true
}
run_rc_command() {
	rc_arg=$1
	_rc_prefix=
	rc_fast=
	case $rc_arg in
	fast*) rc_arg=${rc_arg#fast}; rc_fast=yes ;;
	force*|one*)
		case $rc_arg in force*) _rc_prefix=force ;; *) _rc_prefix=one ;; esac
		rc_arg=${rc_arg#"$_rc_prefix"}
		eval "${rcvar}=YES"
		;;
	esac
	eval "_override_command=\${${name}_program:-}"
	command=${_override_command:-${command:-}}
	_keywords="start stop restart rcvar enable disable delete enabled describe extracommands $extra_commands"
	rc_pid=
	_procname=${procname:-${command:-}}
	if [ -n "$_procname" ]; then
		if [ -n "${pidfile:-}" ]; then
			rc_pid=$(check_pidfile "$pidfile" "$_procname")
		else
			rc_pid=$(check_process "$_procname")
		fi
		rc_pid=${rc_pid% }
		_keywords="$_keywords status poll"
	elif [ -n "${status_cmd:-}" ]; then
		_keywords="$_keywords status"
	fi
	case " $_keywords " in
	*" $rc_arg "*) ;;
	*) echo "Usage: $0 [fast|force|one|quiet]($_keywords)" >&2; return 1 ;;
	esac
	if [ "$rc_arg" = rcvar ]; then
		echo "# $name"
		return 0
	fi
	_check=
	case $rc_arg in
	rcvar|delete|enable|describe|status) ;;
	stop) [ -n "$rc_pid" ] || _check=1 ;;
	*) _check=1 ;;
	esac
	if [ -n "$_check" ] && ! checkyesno "$rcvar"; then
		echo "Cannot '$rc_arg' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$rc_arg' instead of '$rc_arg'."
		return 0
	fi
	if [ "$rc_arg" = start ] && [ -z "$rc_fast" ] && [ -n "$rc_pid" ]; then
		echo "$name already running? (pid=$rc_pid)." >&2
		return 1
	fi
	eval "_cmd=\${${rc_arg}_cmd:-}"
	if [ -n "$_cmd" ]; then
		eval "$_cmd" || return 1
		return 0
	fi
	case $rc_arg in
	status)
		if [ -n "$rc_pid" ]; then
			echo "$name is running as pid $rc_pid."
		else
			echo "$name is not running."
			return 1
		fi
		;;
	restart)
		( run_rc_command "${_rc_prefix}stop" )
		( run_rc_command "${_rc_prefix}start" )
		_return=$?
		[ $_return -ne 0 ] && [ "$_rc_prefix" != force ] && return 1
		return 0
		;;
	*) echo "no ${rc_arg}_cmd" >&2; return 1 ;;
	esac
}
STUB
fi

# The script under test, sourcing the rc.subr chosen above and pointing at
# the stand-in wifibox; the substitution must hit exactly one line each.
[ "$(grep -c '^\. /etc/rc\.subr$' "$script")" = 1 ] ||
	fail "$script should source /etc/rc.subr exactly once"
grep -q '%%PREFIX%%/sbin/' "$script" || fail "$script does not run %%PREFIX%%/sbin/wifibox"
sed -e "s|^\. /etc/rc\.subr\$|. $subr|" -e "s|%%PREFIX%%|$tmp/prefix|g" \
	"$script" >"$tmp/wifibox.rc"

RCD_TEST_LOG=$tmp/log
RCD_TEST_RCCONF=$tmp/rc.conf
export RCD_TEST_LOG RCD_TEST_RCCONF
if [ "$subr" = /etc/rc.subr ]; then
	# The system's rc.subr reads /etc/rc.conf: the setting goes in the
	# environment instead, which load_rc_config leaves alone.
	RCD_TEST_RCCONF=/dev/null
fi

# check RC_CONF COMMAND STATUS EXPECTED: runs the service with rc.conf
# holding RC_CONF and compares its exit status and the wifibox commands it
# ran (lines joined with "; ").
check() {
	printf '%s\n' "$1" >"$tmp/rc.conf"
	: >"$RCD_TEST_LOG"
	status=0
	(
		[ "$subr" != /etc/rc.subr ] || eval "export $1"
		exec sh "$tmp/wifibox.rc" "$2"
	) >"$tmp/out" 2>&1 || status=$?
	ran=$(paste -s -d ';' "$RCD_TEST_LOG" | sed 's/;/; /g')
	if [ "$status" != "$3" ] || [ "$ran" != "$4" ]; then
		fail "[$1] service wifibox $2: exit $status, ran \"$ran\"; expected exit $3, ran \"$4\""
		sed 's/^/	/' "$tmp/out"
	else
		echo "ok: [$1] service wifibox $2: exit $3, runs \"$4\""
	fi
}

on='wifibox_enable=YES'
check "$on" start 0 "wifibox start"
check "$on" stop 0 "wifibox stop"
check "$on" status 0 "wifibox status"
check "$on" restart 0 "wifibox stop; wifibox start"
check "$on" suspend 0 "wifibox suspend"
check "$on" resume 0 "wifibox resume"
check "$on" reload 1 ""
# Disabled by default: nothing runs, except with the one prefix.
check "" start 0 ""
check "" resume 0 ""
check 'wifibox_enable=NO' stop 0 ""
check "" onestart 0 "wifibox start"
check "" onesuspend 0 "wifibox suspend"
check "" onestatus 0 "wifibox status"

# While another wifibox process runs (a console, `wifibox log -f`, the VM
# manager: a process whose first word is wifibox), start, stop, status
# and restart still reach wifibox, which decides by its own state.
mkdir -p "$tmp/bin"
cp "$(command -v sleep)" "$tmp/bin/wifibox"
(cd "$tmp/bin" && PATH=$tmp/bin:$PATH exec wifibox 60) &
sleeper=$!
check "$on" start 0 "wifibox start"
check "$on" restart 0 "wifibox stop; wifibox start"
check "$on" stop 0 "wifibox stop"
kill "$sleeper"
sleeper=

# rc.subr turns every failure into 1: onestatus tells running (0) from
# not running (1), and `wifibox status` alone gives its own status.
export RCD_TEST_EXIT=1
check "" onestatus 1 "wifibox status"
export RCD_TEST_EXIT=5
check "$on" start 1 "wifibox start"
check "$on" status 1 "wifibox status"
unset RCD_TEST_EXIT

if [ "$failures" -ne 0 ]; then
	echo "rcd-test: $failures failure(s)"
	exit 1
fi
echo "rcd-test: all passed"
