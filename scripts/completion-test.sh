#!/bin/sh
# Checks the shell completions of completion/: what zsh lists at each place
# of a command line (scripts/completion-test.zsh, typing into a zsh on a
# pseudo-terminal), and what the bash function, loaded with
# bash-completion, completes.
# Usage: sh scripts/completion-test.sh; exits non-zero on a failure.
set -eu
cd "$(dirname "$0")/.."
zsh -n completion/_wifibox
timeout 120 zsh -f scripts/completion-test.zsh
bash_completion=/usr/share/bash-completion/bash_completion
[ -r "$bash_completion" ] || bash_completion=/usr/local/share/bash-completion/bash_completion
# shellcheck disable=SC2016 # the script is bash's, expanded there
bash -c '
	. "$1"
	. completion/wifibox.bash
	failures=0
	# expect WANT WORDS...: completing the last of WORDS offers WANT.
	expect() {
		want=$1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_wifibox wifibox "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		got="${COMPREPLY[*]}"
		if [ "$got" != "$want" ]; then
			echo "FAIL: $* -> \"$got\", want \"$want\""
			failures=$((failures + 1))
		fi
	}
	expect "start stop status" wifibox st
	expect "start stop restart status wait console version doctor log suspend resume setup help" wifibox ""
	expect "--help" wifibox --h
	expect "guest" wifibox start g
	expect "guest netif vmm" wifibox -n restart ""
	expect "" wifibox stop guest ""
	expect "-v --json" wifibox -n status ""
	expect "-n -h --help --version" wifibox -
	expect "-q --json" wifibox doctor -
	expect "running up wifi -t" wifibox wait ""
	expect "" wifibox wait -t ""
	expect "dmesg" wifibox log guest ""
	expect "-f -n host guest" wifibox log ""
	expect "doctor" wifibox help d
	expect "--yes --device --undo" wifibox setup ""
	expect "" wifibox setup --device ""
	exit $failures
' sh "$bash_completion"
echo "completion: all passed"
