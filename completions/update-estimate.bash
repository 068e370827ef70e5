_update_estimate_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _UPDATE_ESTIMATE_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _update_estimate_completion update-estimate