# bash completion for rtrace (rtrace --generate bash)
_rtrace() {
    local cur prev
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        -B)
            COMPREPLY=($(compgen -W 'full line none' -- "$cur"))
            return ;;
        -e)
            COMPREPLY=()
            return ;;
        -c)
            COMPREPLY=($(compgen -c -- "$cur"))
            return ;;
        -p)
            COMPREPLY=($(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur"))
            return ;;
        -f)
            COMPREPLY=($(compgen -W 'text json' -- "$cur"))
            return ;;
        -o)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        -I)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --include)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --dump)
            COMPREPLY=($(compgen -W 'ast types ir bpf' -- "$cur"))
            return ;;
        --emit-elf)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --metrics)
            COMPREPLY=()
            return ;;
        --flamegraph)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --generate)
            COMPREPLY=($(compgen -W 'man bash zsh fish' -- "$cur"))
            return ;;
        -l)
            COMPREPLY=($(compgen -W 'hardware: interval: iter: kfunc: kretfunc: kprobe: kretprobe: profile: rawtracepoint: software: tracepoint: uprobe: uretprobe: usdt: watchpoint: asyncwatchpoint:' -- "$cur"))
            return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W '-B -e -l -v -c -p --usdt-file-activation -q -f -o -d -k -I --include --unsafe --no-warnings --dump --compile-only --info --emit-elf --metrics --flamegraph -i --generate -h --help -V --version' -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _rtrace rtrace
