# bash completion of wifibox(8), installed as
# %%PREFIX%%/share/bash-completion/completions/wifibox.

_wifibox()
{
	local cur prev words cword
	_init_completion || return
	local commands="start stop restart status wait console version doctor log suspend resume setup help"

	# The command is the first word that is not an option. The options are
	# the installed program's: it has no simulated host (-S).
	local i command="" args=0
	for ((i = 1; i < cword; i++)); do
		if [[ -n $command ]]; then
			args=$((args + 1))
		elif [[ ${words[i]} != -* ]]; then
			command=${words[i]}
		fi
	done

	case $command in
	"")
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-n -h --help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		fi
		;;
	start | stop | restart)
		[[ $args -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "guest netif vmm" -- "$cur")
		;;
	status)
		[[ $args -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "-v --json" -- "$cur")
		;;
	wait)
		[[ $prev == -t ]] || mapfile -t COMPREPLY < <(compgen -W "running up wifi -t" -- "$cur")
		;;
	doctor)
		[[ $args -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "-q --json" -- "$cur")
		;;
	console)
		[[ $args -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "-e" -- "$cur")
		;;
	log)
		case $prev in
		-n) ;;
		guest) mapfile -t COMPREPLY < <(compgen -W "dmesg" -- "$cur") ;;
		*) mapfile -t COMPREPLY < <(compgen -W "-f -n host guest" -- "$cur") ;;
		esac
		;;
	setup)
		case $prev in
		--device) ;;
		*) mapfile -t COMPREPLY < <(compgen -W "--yes --device --undo" -- "$cur") ;;
		esac
		;;
	help)
		[[ $args -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		;;
	esac
} &&
	complete -F _wifibox wifibox
