# bash completion for viasock: commands, their options, daemon IDs for
# stop/restart/logs, and after TOOL the tool's own completion.

_viasock_commands="run start probe server client list stop restart prune logs help"

# Options of run/start/server that take a value (the word after them is not TOOL).
_viasock_valued="-t --input-terminator -T --output-terminator -P --prelude --output-prelude --prelude-lines
  -w --record-timeout --process-timeout -W --idle-timeout --server-timeout -j --instances --watch --env
  -l --log --state-dir --ready-fd --older-than --max-records --max-record --max-answer --retry"

_viasock_options() {
    case $1 in
        run|start|server|probe)
            echo "-t --input-terminator -T --output-terminator -0 --null -P --prelude --prelude-lines
                  -w --record-timeout -W --idle-timeout -j --instances -L --line-buffered --pty --pipe
                  --watch --env --no-track --max-records --max-record --max-answer --retry --quiet-tool
                  -l --log -h --help"
            [[ $1 != probe ]] && echo "--state-dir"
            [[ $1 == run ]] && echo "--no-spawn -v --verbose"
            [[ $1 == start ]] && echo "-v --verbose" ;;
        list) echo "--all --everywhere --json --ids -v --verbose --state-dir -h --help" ;;
        stop|restart) echo "--all --everywhere --state-dir -h --help" ;;
        prune) echo "--everywhere --older-than --state-dir -h --help" ;;
        logs) echo "-f --follow --state-dir -h --help" ;;
        client|help) echo "-h --help" ;;
    esac
}

_viasock() {
    local cur prev command i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "$_viasock_commands --help --version" -- "$cur"))
        return
    fi
    command=${COMP_WORDS[1]}

    # run/start/probe/server: after the options comes TOOL, then the tool's words.
    if [[ $command == run || $command == start || $command == probe || $command == server ]]; then
        local before_tool=0   # server: SOCKET comes before TOOL
        [[ $command == server ]] && before_tool=1
        for ((i = 2; i < COMP_CWORD; i++)); do
            local word=${COMP_WORDS[i]}
            if [[ $word == -- ]]; then
                i=$((i + 1 + before_tool))
                break
            fi
            if [[ $word == -* ]]; then
                [[ $word != *=* && " ${_viasock_valued//$'\n'/ } " == *" $word "* ]] && i=$((i + 1))
                continue
            fi
            ((before_tool-- > 0)) && continue
            break
        done
        if ((i < COMP_CWORD)); then
            # The tool and its arguments: complete them as the tool would.
            if declare -F _command_offset >/dev/null; then
                _command_offset "$i"   # from the bash-completion package
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
        fi
    fi

    case $prev in
        --state-dir|--watch|-l|--log)
            COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --env)
            COMPREPLY=($(compgen -e -- "$cur")); return ;;
        -t|--input-terminator|-T|--output-terminator|-P|--prelude|--prelude-lines|-w|--record-timeout|\
        -W|--idle-timeout|-j|--instances|--older-than|--max-records|--max-record|--max-answer|--retry)
            return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_viasock_options "$command")" -- "$cur"))
        return
    fi
    case $command in
        stop|restart|logs)
            local scope=()
            [[ " ${COMP_WORDS[*]} " == *" --everywhere "* ]] && scope=(--all)
            COMPREPLY=($(compgen -W "$(viasock list --ids "${scope[@]}" 2>/dev/null)" -- "$cur")) ;;
        help)
            COMPREPLY=($(compgen -W "$_viasock_commands" -- "$cur")) ;;
        run|start|probe)
            COMPREPLY=($(compgen -c -- "$cur")) ;;
        server|client)
            COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
    esac
}

complete -F _viasock viasock
