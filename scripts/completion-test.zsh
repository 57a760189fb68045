#!/bin/zsh -f
# Checks what the zsh completion of completion/_wifibox offers, typing
# command lines with a tab into an interactive zsh on a pseudo-terminal.
# Usage: zsh -f scripts/completion-test.zsh; exits non-zero on a failure.
cd "${0:A:h}/.."
zmodload zsh/zpty
setopt extended_glob
failures=0

# listing LINE: what zsh lists when LINE is completed (tab twice).
listing() {
	zpty z 'zsh -f -i'
	# The prompt and the marker are assembled so that their echo is not
	# taken for them.
	zpty -w z "r=RE; PS1=\${r}ADY'> '; fpath=($PWD/completion \$fpath); autoload -U compinit; compinit -u -D; LISTMAX=0"
	zpty -r z _ '*READY> *'
	zpty -w -n z "$1"$'\t\t'
	zpty -w z $'\C-u'"d=DO; echo \${d}NE"
	local out
	zpty -r z out '*DONE*'
	zpty -d z
	print -r -- "${out//$'\e'\[[0-9;?]#[A-Za-z]/}"
}

# expect LINE WORD...: completing LINE lists each WORD; a WORD starting
# with ! must not be listed.
expect() {
	local line=$1 word
	shift
	local got=$(listing "$line")
	local -a listed
	listed=(${=got//$'\r'/ })
	for word; do
		if [[ $word == !* ]]; then
			(( ${listed[(Ie)${word#!}]} )) || continue
		else
			(( ${listed[(Ie)$word]} )) && continue
		fi
		printf 'FAIL: completing "%s": %s; got:\n%s\n' "$line" "$word" "$got"
		failures=$((failures + 1))
	done
}

expect 'wifibox st' start status stop '!restart'
expect 'wifibox -' -n --help --version '!-S'
expect 'wifibox ' console doctor help log resume setup suspend version
expect 'wifibox setup -' --yes --device --undo
expect 'wifibox restart ' guest netif vmm '!start'
expect 'wifibox status ' -v --json '!-q'
expect 'wifibox doctor ' -q --json '!-v'
expect 'wifibox log ' host guest
exit $failures
