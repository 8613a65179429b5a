# bash completion for driftwatch(1). Commands and options are read from
# `driftwatch --help` and `driftwatch COMMAND --help` of the driftwatch
# being completed, so they are always its own; container names come from
# `docker ps` when a docker client answers within a second.

_driftwatch_help() {
	command "${1:-driftwatch}" "${@:2}" --help 2>/dev/null
}

# Container names that start with $cur, kept as words: never through
# compgen -W, which would expand what a name holds.
_driftwatch_containers() {
	local n
	command -v docker >/dev/null 2>&1 || return 0
	while IFS= read -r n; do
		[[ $n == "$cur"* ]] && COMPREPLY+=("$n")
	done < <(timeout 1 docker ps --format '{{.Names}}' 2>/dev/null)
}

# Files and directories, quoted by readline when inserted (a file named
# 'x;touch y' must not become a command).
_driftwatch_files() {
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen "$1" -- "$cur")
}

_driftwatch() {
	local cur prev prog cmd i help opts arg
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	prog=${COMP_WORDS[0]}
	# The command: the first word that is not a global option or its
	# value.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--host | --host-root) ((i++)) ;;
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	if [ -z "$cmd" ]; then
		case $prev in
		--host-root)
			_driftwatch_files -d
			return
			;;
		--host) return ;;
		esac
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '--host --host-root --help --version' -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_driftwatch_help "$prog" |
				awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')" -- "$cur")
		fi
		return
	fi
	help=$(_driftwatch_help "$prog" "$cmd")
	# The value of an option: what its help line names it.
	if [[ $prev == -* ]]; then
		arg=$(awk -v o="$prev" '{
			for (k = 1; k <= NF; k++) {
				w = $k; sub(/,$/, "", w)
				if (w == o && $(k + 1) ~ /^[A-Z][A-Z:.\/|_-]*$/) { print $(k + 1); exit }
			}
		}' <<<"$help")
		case $arg in
		"") ;;
		FMT)
			mapfile -t COMPREPLY < <(compgen -W "$(grep -E -- "(^| )$prev " <<<"$help" |
				grep -oE '\b(text|json|jsonl|sarif)\b' | sort -u)" -- "$cur")
			return
			;;
		C)
			_driftwatch_containers
			return
			;;
		DIR) _driftwatch_files -d; return ;;
		PATH | FILE | FILES | PUB) _driftwatch_files -f; return ;;
		*) return ;;
		esac
	fi
	if [[ $cur == -* ]]; then
		opts=$(grep -oE -- '^ +(-[A-Za-z], )?--[a-z][a-z0-9-]*' <<<"$help" | grep -oE -- '--?[A-Za-z][a-z0-9-]*')
		mapfile -t COMPREPLY < <(compgen -W "$(printf "%s\n" $opts --help | sort -u)" -- "$cur")
		return
	fi
	case $cmd in
	diff | commit) _driftwatch_containers ;;
	scan | verify) _driftwatch_files -f ;;
	evidence | key) mapfile -t COMPREPLY < <(compgen -W "export" -- "$cur") ;;
	hook) mapfile -t COMPREPLY < <(compgen -W "$(grep -oE '^usage: driftwatch hook [a-z-]+|^   or: driftwatch hook [a-z-]+' <<<"$help" | awk '{ print $NF }')" -- "$cur") ;;
	esac
}

complete -F _driftwatch driftwatch
